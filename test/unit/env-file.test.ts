/** `sluice run --env-file`: the KEY=VALUE reader (runtime/cli/env-file.ts) */
import { describe, expect, it } from 'vitest';
import { parseEnvFile } from '../../runtime/cli/env-file.js';

describe('parseEnvFile', () => {
  it('reads plain, quoted and exported values; skips comments and blank lines', () => {
    const text = [
      '# a comment',
      '',
      'A=plain value  # trailing comment',
      'B="double \\"quoted\\" # not a comment\\nsecond line"',
      "export C='single $ # kept as written'",
      '  D = spaced  ',
      'E=',
      'F=pa#ss',
    ].join('\n');
    expect(parseEnvFile(text)).toEqual({
      A: 'plain value',
      B: 'double "quoted" # not a comment\nsecond line',
      C: 'single $ # kept as written',
      D: 'spaced',
      E: '',
      F: 'pa#ss',
    });
  });

  it('names the file and line of a line it cannot read', () => {
    expect(() => parseEnvFile('A=1\nnot a pair\n', 'prod.env')).toThrow('prod.env:2: not a KEY=VALUE line');
    expect(() => parseEnvFile('A="open', 'prod.env')).toThrow('prod.env:1: A: the " quote is not closed');
    expect(() => parseEnvFile("A='x' y", 'prod.env')).toThrow('prod.env:1: A: text after the closing quote');
  });
});
