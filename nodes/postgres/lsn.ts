/** PostgreSQL log sequence numbers (`16/B374D848`): read, written, compared as bigints. */
export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!m) throw new Error(`not an LSN: ${JSON.stringify(text)}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** an LSN as the server writes it, in one spelling (no leading zeros, upper case); null is 0/0 */
export const normLsn = (text: string | null) => (text ? formatLsn(parseLsn(text)) : '0/0');
