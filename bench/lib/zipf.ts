// The sampler lives in src/lab (the `shardkit lab` command draws Zipf keys too); benchmarks keep this path.
export { mulberry32, zipfSequence } from '../../src/lab/zipf.js';
