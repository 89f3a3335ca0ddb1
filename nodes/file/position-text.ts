/** file.source positions in words: `byte 1234 after line 56` (where the next run reads on, and its line count). */
import type { PositionText } from '../../runtime/index.js';
import type { FilePosition } from './common.js';

export const filePositionText: PositionText = {
  example: 'byte 0 after line 0',
  describe: (p) => `byte ${(p as FilePosition).offset} after line ${(p as FilePosition).line}`,
  parse(text) {
    // both numbers: the line count cannot be known without reading the file up to the byte
    const m = /^byte\s+(\d+)\s+after\s+line\s+(\d+)$/i.exec(text.trim());
    if (!m) throw new Error('expected "byte OFFSET after line LINES", the byte just after a line end and the lines before it');
    return { offset: Number(m[1]), line: Number(m[2]) } satisfies FilePosition;
  },
  compare: (a, b) => Math.sign((a as FilePosition).offset - (b as FilePosition).offset),
};
