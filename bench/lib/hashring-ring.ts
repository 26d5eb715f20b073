// hashring's continuum as a Ring lives in src/lab (a scheme of `shardkit lab`); benchmarks keep this path.
export { makeHashRing, ringOfHashRing } from '../../src/lab/hashring-ring.js';
