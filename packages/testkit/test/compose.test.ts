// readComposeNodeServices: what compose would make of a file, without Docker.
import { join } from 'node:path';
import { composeBytes, readComposeNodeServices } from '@failway/testkit';
import { describe, expect, it } from 'vitest';

describe('compose byte values', () => {
  it('reads them in binary units, as Docker does', () => {
    expect(composeBytes('160M')).toBe(160 * 1024 * 1024);
    expect(composeBytes('1.5g')).toBe(1.5 * 1024 ** 3);
    expect(composeBytes('512mb')).toBe(512 * 1024 * 1024);
    expect(composeBytes('64KiB')).toBe(64 * 1024);
    expect(composeBytes(1000)).toBe(1000);
    expect(() => composeBytes('lots')).toThrow(/not a compose byte value/);
  });
});

describe('the Node services of a compose file', () => {
  it('resolves anchors and merge keys, interpolates from the given variables and defaults, and leaves out the rest', () => {
    const file = join(import.meta.dirname, 'fixtures', 'compose.yaml');
    const services = readComposeNodeServices(file, { KEY: 'k', TTL: '' });
    expect([...services.keys()]).toEqual(['api', 'big']);
    expect(services.get('api')).toEqual({
      name: 'api',
      service: 'gateway',
      memoryLimit: '128M',
      memoryLimitBytes: 128 * 1024 * 1024,
      environment: {
        NODE_OPTIONS: '--max-old-space-size=64',
        TTL: '30',
        KEY: 'k',
        PRICE: '$5',
        PORT: '8080',
      },
    });
    expect(services.get('big')).toMatchObject({
      service: 'departures',
      memoryLimitBytes: 1024 ** 3,
      environment: { NODE_OPTIONS: '--max-old-space-size=512', TTL: '' },
    });
  });

  it("finds every service of the repository's compose.yaml with a memory limit", () => {
    const services = readComposeNodeServices();
    expect([...services.keys()].sort()).toEqual([
      'departures-a',
      'departures-b',
      'gateway',
      'rail-sim',
      'route-config',
    ]);
    for (const s of services.values()) expect(s.memoryLimitBytes).toBeGreaterThan(0);
  });
});
