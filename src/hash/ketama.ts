import { md5, md5FirstWord, md5Words } from './md5.js';

export { md5, md5Words };

/**
 * A key's ketama point, as hashring 3.x's `hashValue(key)` computes it: MD5 of the key's UTF-8
 * bytes, the first four digest bytes read little-endian as a uint32. This is what lets ketama mode
 * reproduce hashring (and libketama, twemproxy) placement key by key.
 */
export function ketamaPoint(s: string): number {
  return md5FirstWord(s);
}

/** {@link ketamaPoint} of raw bytes (the canonical bytes of a non-string key). */
export function ketamaPointOfBytes(bytes: Uint8Array): number {
  return md5FirstWord(bytes);
}
