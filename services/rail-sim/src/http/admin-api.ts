import { z } from 'zod';
import { SIM_TIME_OFFSET_MAX_MIN } from '../config.ts';
import { BAN_STYLES } from '../domain/bans.ts';

// The admin API's request and answer bodies: admin.ts checks requests with them and openapi.ts
// documents them, so the document cannot drift from the checks.

export const banBody = z.strictObject({
  // Checked exactly as the document states it (schemathesis found a schema-valid string refused):
  // IPv4, IPv6 by zod's own patterns, and IPv4-mapped IPv6, which the ban is folded from.
  ip: z
    .union(
      [
        z.ipv4(),
        z.string().regex(z.regexes.ipv6).meta({ format: 'ipv6' }),
        z.string().regex(new RegExp(`^::ffff:${z.regexes.ipv4.source.slice(1)}`, 'i')),
      ],
      { error: 'must be an IPv4 or IPv6 address' },
    )
    .meta({
      description: 'The client address to ban (IPv4-mapped IPv6 is folded to IPv4).',
      examples: ['127.0.0.2'],
    }),
  seconds: z
    .int()
    .min(1)
    .max(7 * 86_400)
    .optional()
    .meta({ description: 'How long; BAN_DURATION_S when absent.' }),
});

export const faultsBody = z.strictObject({
  latencyMs: z.int().min(0).max(60_000).optional().meta({ description: 'Added to every board answer.' }),
  errorRate: z
    .number()
    .min(0)
    .max(1)
    .optional()
    .meta({ description: 'Share of board requests answered 500.' }),
  banStyle: z
    .enum(BAN_STYLES)
    .nullable()
    .optional()
    .meta({ description: 'How banned callers are answered (null: BAN_STYLE).' }),
  disruption: z.boolean().optional().meta({ description: 'Many more cancellations and delays.' }),
});

export const clockBody = z.strictObject({
  offsetMinutes: z
    .int()
    .min(-SIM_TIME_OFFSET_MAX_MIN)
    .max(SIM_TIME_OFFSET_MAX_MIN)
    .meta({ description: "Shift of the boards' clock against the real one." }),
});

const instant = z.iso.datetime();

export const banView = z
  .object({
    ip: z.string(),
    reason: z.enum(['limit', 'admin']),
    since: instant,
    until: instant,
    liftedAt: instant.nullable().optional(),
  })
  .meta({ id: 'Ban' });

export const bansView = z
  .object({ active: z.array(banView), history: z.array(banView) })
  .meta({ id: 'Bans' });

export const liftedView = z.object({ lifted: z.int().nonnegative() }).meta({ id: 'Lifted' });

export const faultsView = z
  .object({
    latencyMs: z.int().nonnegative(),
    errorRate: z.number().min(0).max(1),
    banStyle: z.enum(BAN_STYLES).nullable(),
    disruption: z.boolean(),
  })
  .meta({ id: 'Faults' });

export const clockView = z
  .object({ offsetMinutes: z.int(), configuredOffsetMinutes: z.int(), simulatedNow: instant })
  .meta({ id: 'SimClock' });
