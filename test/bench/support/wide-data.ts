/**
 * The schemas benchmark's event data (issue #16), shared by the load generator (`load.ts`, `data: "wide"`) and the
 * tests that hold the schema check to it (test/core/schema-text.test.ts).
 */

/** About 1 KB of JSON in 20 properties of every kind, as `test/bench/schemas.ts`'s schema describes them. */
export function wideData(n: number): Record<string, unknown> {
  return {
    n,
    orderId: `ord-${n}`,
    customerId: crypto.randomUUID(),
    email: `customer${n}@shop.example`,
    createdAt: new Date().toISOString(),
    status: ['new', 'paid', 'shipped'][n % 3],
    total: (n % 1000) + 0.99,
    currency: 'EUR',
    quantity: (n % 7) + 1,
    express: n % 2 === 0,
    giftWrap: false,
    coupon: n % 5 === 0 ? null : 'SPRING',
    country: 'DE',
    city: 'Berlin',
    street: 'Unter den Linden 1',
    postcode: '10117',
    tags: ['web', 'mobile', 'loyal'],
    items: [
      { sku: 'sku-1', qty: 1, price: 9.99 },
      { sku: 'sku-2', qty: 2, price: 19.5 },
    ],
    channel: { name: 'web', campaign: 'spring-sale' },
    note: 'Please leave the parcel with the neighbour if nobody is at home. '.repeat(6),
  };
}
