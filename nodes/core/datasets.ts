/**
 * Deterministic sample data for core.generate: record i of a dataset is a pure function of (seed, i),
 * so a resumed run continues with exactly the records an uninterrupted run would have produced, and
 * the datasets agree with each other (an order's country is its customer's country).
 */
export type Dataset = 'orders' | 'customers' | 'order_lines' | 'counter';

export interface DatasetOptions {
  seed: number;
  /** customers referenced by orders: customer_id is in 1..customers */
  customers: number;
  /** order_lines per order: line i belongs to order ceil(i / linesPerOrder) */
  linesPerOrder: number;
}

const COUNTRIES = [
  ['US', 'USD'], ['DE', 'EUR'], ['FR', 'EUR'], ['GB', 'GBP'], ['JP', 'JPY'],
  ['CA', 'CAD'], ['BR', 'BRL'], ['IN', 'INR'], ['AU', 'AUD'], ['NL', 'EUR'],
] as const;
const STATUSES = ['new', 'paid', 'paid', 'shipped', 'shipped', 'delivered', 'delivered', 'delivered', 'cancelled'];
const TIERS = ['bronze', 'bronze', 'bronze', 'silver', 'silver', 'gold', 'platinum'];
const FIRST = ['Ada', 'Alan', 'Grace', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Edsger', 'Frances', 'Donald', 'Radia', 'John'];
const LAST = ['Lovelace', 'Turing', 'Hopper', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'Dijkstra', 'Allen', 'Knuth', 'Perlman', 'Backus'];
const EPOCH = Date.UTC(2026, 0, 1);

/** A 32-bit hash of (seed, index, salt) in [0, 1): each field of each record draws its own number. */
function rand(seed: number, index: number, salt: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index, 0xc2b2ae35) ^ Math.imul(salt + 1, 0x27d4eb2f);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

const pick = <T>(list: readonly T[], r: number): T => list[Math.floor(r * list.length)];
const money = (r: number, min: number, max: number) => Math.round((min + r * (max - min)) * 100) / 100;

export function countryOfCustomer(seed: number, customerId: number): (typeof COUNTRIES)[number] {
  return pick(COUNTRIES, rand(seed, customerId, 100));
}

/** The record at 1-based position `i` of a dataset. */
export function datasetRecord(dataset: Dataset, i: number, o: DatasetOptions): Record<string, unknown> {
  const { seed } = o;
  switch (dataset) {
    case 'counter':
      return { n: i };
    case 'customers': {
      const first = pick(FIRST, rand(seed, i, 101));
      const last = pick(LAST, rand(seed, i, 102));
      return {
        id: i,
        name: `${first} ${last}`,
        email: `${first}.${last}.${i}@example.com`.toLowerCase(),
        country: countryOfCustomer(seed, i)[0],
        tier: pick(TIERS, rand(seed, i, 103)),
      };
    }
    case 'orders': {
      const customer = 1 + Math.floor(rand(seed, i, 1) * o.customers);
      const [country, currency] = countryOfCustomer(seed, customer);
      return {
        id: i,
        customer_id: customer,
        amount: money(rand(seed, i, 2), 5, 500),
        currency,
        country,
        status: pick(STATUSES, rand(seed, i, 3)),
        ts: new Date(EPOCH + i * 1000).toISOString(),
      };
    }
    case 'order_lines':
      return {
        id: i,
        order_id: Math.ceil(i / o.linesPerOrder),
        sku: `SKU-${1000 + Math.floor(rand(seed, i, 11) * 500)}`,
        qty: 1 + Math.floor(rand(seed, i, 12) * 5),
        price: money(rand(seed, i, 13), 1, 200),
      };
  }
}

export function keyOf(dataset: Dataset, value: Record<string, unknown>): Record<string, unknown> {
  return dataset === 'counter' ? { n: value.n } : { id: value.id };
}
