// Output similarity: Python's `difflib.SequenceMatcher(None, a, b).ratio()`, reproduced exactly.
//
// Mirrors CPython Lib/difflib.py step by step, so every input gives the bit-identical float:
//   __chain_b            b2j = element -> ascending positions in b; no junk (isjunk is None);
//                        autojunk: when len(b) >= 200, elements occurring more than len(b)//100 + 1
//                        times are "popular" and dropped from b2j (they can still be matched by
//                        the extension loops below, because bjunk stays empty).
//   find_longest_match   dynamic programme over a[alo:ahi] rows, j2len of the previous row only;
//                        ties go to the smallest i, then the smallest j; then the block is extended
//                        left and right over equal elements (the junk-only loops are no-ops, since
//                        no element is junk without isjunk).
//   get_matching_blocks  queue of (alo, ahi, blo, bhi) sub-ranges left and right of each match.
//   ratio                2.0 * M / T with M = sum of matched block sizes, T = len(a) + len(b);
//                        1.0 when both are empty.
// Collapsing adjacent blocks (the tail of get_matching_blocks) does not change M, so it is skipped.
//
// Python indexes a str by code point, JavaScript by UTF-16 unit: both strings are converted to
// code point arrays first, so astral characters (emoji) count as one element, as in Python.
// A lone surrogate stays one element, as it is in a Python str.

const MAX_CODE_POINT = 0x10ffff;

/** Scratch buffers reused across calls (each worker thread has its own module instance). */
let aCodes = new Int32Array(1024);
let bCodes = new Int32Array(1024);
let aSyms = new Int32Array(1024);
let bSyms = new Int32Array(1024);
/** code point -> symbol id for the current b, -1 when absent; reset after each call via `touched`. */
const symbolOf = new Int32Array(MAX_CODE_POINT + 1).fill(-1);
let touched = new Int32Array(1024);
/** CSR form of b2j: positions of symbol s are positions[starts[s] .. starts[s + 1]). */
let starts = new Int32Array(1025);
let fill = new Int32Array(1024);
let positions = new Int32Array(1024);
/** j2len of the previous and current rows, indexed by j + 1; a cell is valid only when its stamp equals the row's stamp. */
let lenEven = new Int32Array(1025);
let lenOdd = new Int32Array(1025);
let stampEven = new Int32Array(1025);
let stampOdd = new Int32Array(1025);
let stack = new Int32Array(256);

function grow(buffer: Int32Array<ArrayBuffer>, size: number): Int32Array<ArrayBuffer> {
  if (buffer.length >= size) return buffer;
  let n = buffer.length;
  while (n < size) n *= 2;
  return new Int32Array(n);
}

/** Writes the code points of s into a buffer (grown as needed); returns the buffer and the element count. */
function toCodePoints(s: string, buffer: Int32Array<ArrayBuffer>): [Int32Array<ArrayBuffer>, number] {
  const out = grow(buffer, s.length);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out[n++] = ((unit - 0xd800) << 10) + (next - 0xdc00) + 0x10000;
        i++;
        continue;
      }
    }
    out[n++] = unit;
  }
  return [out, n];
}

/** Number of elements Python's len() gives for a str: code points, not UTF-16 units. */
export function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const unit = s.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/**
 * `difflib.SequenceMatcher(None, a, b).ratio()`: 2·M / (len(a) + len(b)), M = matched code points.
 * Identical strings short-circuit to 1.0, which is what difflib returns for them (empty ones included).
 */
export function similarityRatio(a: string, b: string): number {
  if (a === b) return 1.0;
  let la: number;
  let lb: number;
  [aCodes, la] = toCodePoints(a, aCodes);
  [bCodes, lb] = toCodePoints(b, bCodes);
  const matches = matchedElements(aCodes, la, bCodes, lb);
  const total = la + lb;
  return total === 0 ? 1.0 : (2.0 * matches) / total;
}

/** M: the sum of the sizes of get_matching_blocks() for code point arrays A[0:la], B[0:lb]. */
function matchedElements(A: Int32Array, la: number, B: Int32Array, lb: number): number {
  // __chain_b: symbol ids for b's distinct elements, counts, then positions in ascending order.
  bSyms = grow(bSyms, lb);
  touched = grow(touched, lb);
  let symbols = 0;
  for (let j = 0; j < lb; j++) {
    const code = B[j] as number;
    let s = symbolOf[code] as number;
    if (s < 0) {
      s = symbols++;
      symbolOf[code] = s;
      touched[s] = code;
    }
    bSyms[j] = s;
  }
  starts = grow(starts, symbols + 1);
  starts.fill(0, 0, symbols + 1);
  for (let j = 0; j < lb; j++) {
    const at = (bSyms[j] as number) + 1;
    starts[at] = (starts[at] as number) + 1;
  }
  // Autojunk: popular elements leave b2j (count > n // 100 + 1, only when n >= 200).
  const popularAbove = lb >= 200 ? Math.floor(lb / 100) + 1 : Infinity;
  for (let s = 0; s < symbols; s++) {
    const count = starts[s + 1] as number;
    starts[s + 1] = (starts[s] as number) + (count > popularAbove ? 0 : count);
    if (count > popularAbove) symbolOf[touched[s] as number] = -2; // popular: present in b, absent from b2j
  }
  fill = grow(fill, symbols);
  fill.set(starts.subarray(0, symbols));
  positions = grow(positions, lb);
  for (let j = 0; j < lb; j++) {
    const s = bSyms[j] as number;
    if (symbolOf[B[j] as number] === -2) continue;
    const at = fill[s] as number;
    positions[at] = j;
    fill[s] = at + 1;
  }
  // a's elements as b2j keys: -1 when the element has no entry in b2j (absent or popular).
  aSyms = grow(aSyms, la);
  for (let i = 0; i < la; i++) {
    const s = symbolOf[A[i] as number] as number;
    aSyms[i] = s < 0 ? -1 : s;
  }
  for (let s = 0; s < symbols; s++) symbolOf[touched[s] as number] = -1;

  lenEven = grow(lenEven, lb + 1);
  lenOdd = grow(lenOdd, lb + 1);
  stampEven = grow(stampEven, lb + 1);
  stampOdd = grow(stampOdd, lb + 1);
  stampEven.fill(0, 0, lb + 1);
  stampOdd.fill(0, 0, lb + 1);
  let row = 1;

  // get_matching_blocks: the order sub-ranges are processed in does not change M.
  let matches = 0;
  let top = 0;
  stack[top++] = 0;
  stack[top++] = la;
  stack[top++] = 0;
  stack[top++] = lb;
  while (top > 0) {
    const bhi = stack[--top] as number;
    const blo = stack[--top] as number;
    const ahi = stack[--top] as number;
    const alo = stack[--top] as number;

    // find_longest_match(alo, ahi, blo, bhi)
    let besti = alo;
    let bestj = blo;
    let bestsize = 0;
    row++; // a fresh stamp so the first row of this call sees an empty previous row
    for (let i = alo; i < ahi; i++) {
      row++;
      const s = aSyms[i] as number;
      if (s < 0) continue; // newj2len is empty for this row
      const odd = (row & 1) === 1;
      const curLen = odd ? lenOdd : lenEven;
      const curStamp = odd ? stampOdd : stampEven;
      const prevLen = odd ? lenEven : lenOdd;
      const prevStamp = odd ? stampEven : stampOdd;
      const prevRow = row - 1;
      let p = starts[s] as number;
      const end = starts[s + 1] as number;
      // Skip positions j < blo (binary search; difflib scans, with the same result).
      if (p < end && (positions[p] as number) < blo) {
        let lo = p;
        let hi = end;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if ((positions[mid] as number) < blo) lo = mid + 1;
          else hi = mid;
        }
        p = lo;
      }
      for (; p < end; p++) {
        const j = positions[p] as number;
        if (j >= bhi) break;
        const k = prevStamp[j] === prevRow ? (prevLen[j] as number) + 1 : 1; // j2len.get(j - 1, 0) + 1, stored at index j
        curLen[j + 1] = k;
        curStamp[j + 1] = row;
        if (k > bestsize) {
          besti = i - k + 1;
          bestj = j - k + 1;
          bestsize = k;
        }
      }
    }
    // Extend over equal elements on both sides (catches popular elements, which b2j lacks).
    while (besti > alo && bestj > blo && A[besti - 1] === B[bestj - 1]) {
      besti--;
      bestj--;
      bestsize++;
    }
    while (besti + bestsize < ahi && bestj + bestsize < bhi && A[besti + bestsize] === B[bestj + bestsize]) bestsize++;

    if (bestsize > 0) {
      matches += bestsize;
      if (top + 8 > stack.length) {
        const bigger = new Int32Array(stack.length * 2);
        bigger.set(stack);
        stack = bigger;
      }
      if (alo < besti && blo < bestj) {
        stack[top++] = alo;
        stack[top++] = besti;
        stack[top++] = blo;
        stack[top++] = bestj;
      }
      if (besti + bestsize < ahi && bestj + bestsize < bhi) {
        stack[top++] = besti + bestsize;
        stack[top++] = ahi;
        stack[top++] = bestj + bestsize;
        stack[top++] = bhi;
      }
    }
  }
  return matches;
}

/** Share of ratios at or above the threshold (a pair is "consistent" when ratio ≥ threshold). */
export function consistentShare(ratios: ArrayLike<number>, threshold: number): number {
  if (ratios.length === 0) return Number.NaN;
  let n = 0;
  for (let i = 0; i < ratios.length; i++) if ((ratios[i] as number) >= threshold) n++;
  return n / ratios.length;
}
