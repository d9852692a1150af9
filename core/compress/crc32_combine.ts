// CRC-32 of a concatenation from the CRCs of its parts: how parallel gzip gets one member's CRC.

// CRC-32 combination (the arithmetic of zlib's crc32_combine, written from the math): the CRC of
// A‖B is CRC(A) multiplied by x^(8·|B|) modulo the CRC polynomial, xor CRC(B). Polynomials are in
// the reflected bit order CRC-32 uses, where bit 31 holds x^0.
const CRC_POLYNOMIAL = 0xedb88320;

function multiplyModP(a: number, b: number): number {
  let product = 0;
  for (let bit = 0x80000000; bit !== 0; bit >>>= 1) {
    if ((a & bit) !== 0) product ^= b;
    b = (b & 1) !== 0 ? (b >>> 1) ^ CRC_POLYNOMIAL : b >>> 1;
  }
  return product >>> 0;
}

/** X_POWERS[k] = x^(2^k) mod P. */
const X_POWERS: number[] = (() => {
  const powers = [0x40000000]; // x^1
  for (let k = 1; k < 64; k++) powers.push(multiplyModP(powers[k - 1]!, powers[k - 1]!));
  return powers;
})();

/** x^(8·bytes) mod P. */
function xPowerOfBytes(bytes: number): number {
  let result = 0x80000000; // x^0
  let k = 3; // 8 = 2^3
  for (let remaining = bytes; remaining > 0; remaining = Math.floor(remaining / 2), k++) {
    if (remaining % 2 === 1) result = multiplyModP(X_POWERS[k % 64]!, result);
  }
  return result;
}

/** CRC-32 of A‖B from CRC-32(A), CRC-32(B) and B's length. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (multiplyModP(xPowerOfBytes(lengthB), crcA) ^ crcB) >>> 0;
}
