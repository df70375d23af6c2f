import { describe, expect, it } from 'vitest';
import { BANNER_MS, initialStatus, isLive, notLiveReason, reduceStatus } from './status.js';

// The gateway's connection_status as it sends it.
const status = (chrome, redis = 'connected') => ({
  gateway: 'running',
  redis,
  chrome: { state: chrome, reason: '' },
  services: { candles: { alive: true, instances: 1 }, ingest: { alive: chrome !== 'disconnected', instances: 1 } },
});

function run(events) {
  let s = initialStatus;
  for (const [e, now] of events) s = reduceStatus(s, e, now);
  return s;
}

describe('connection state', () => {
  it('is live only with the gateway and Chrome both connected', () => {
    const s = run([[{ type: 'connect' }, 0]]);
    expect(isLive(s)).toBe(false);
    const s2 = reduceStatus(s, { type: 'status', payload: status('connected') }, 1);
    expect(isLive(s2)).toBe(true);
    expect(s2.services.ingest.alive).toBe(true);
    const s3 = reduceStatus(s2, { type: 'status', payload: status('disconnected') }, 2);
    expect(isLive(s3)).toBe(false);
    expect(notLiveReason(s3)).toMatch(/Chrome/);
    expect(s3.banner.kind).toBe('problem');
    expect(s3.services.ingest.alive).toBe(false);
  });

  it('a lost gateway stops the live claim, says why, and recovers with a banner that hides after 3 s', () => {
    let s = run([
      [{ type: 'connect' }, 0],
      [{ type: 'status', payload: status('connected') }, 10],
      [{ type: 'disconnect', reason: 'transport close' }, 1000],
    ]);
    expect(s.gateway).toBe('disconnected');
    expect(isLive(s)).toBe(false);
    expect(s.banner.kind).toBe('problem');
    expect(s.banner.text).toMatch(/Lost the connection/);
    s = reduceStatus(s, { type: 'connect' }, 5000);
    expect(isLive(s)).toBe(false); // Chrome's state is not known again yet
    s = reduceStatus(s, { type: 'status', payload: status('reconnected') }, 5100);
    expect(isLive(s)).toBe(true);
    expect(s.banner).toEqual({ kind: 'recovered', text: expect.any(String), until: 5100 + BANNER_MS });
    expect(reduceStatus(s, { type: 'tick' }, 5100 + BANNER_MS - 1).banner).not.toBeNull();
    expect(reduceStatus(s, { type: 'tick' }, 5100 + BANNER_MS).banner).toBeNull();
  });

  it('Redis going away and coming back is reported', () => {
    let s = run([
      [{ type: 'connect' }, 0],
      [{ type: 'status', payload: status('connected', 'disconnected') }, 10],
    ]);
    expect(s.redis).toBe('disconnected');
    expect(s.banner.text).toMatch(/Redis/);
    s = reduceStatus(s, { type: 'backend_reconnected' }, 20);
    expect(s.redis).toBe('connected');
  });
});
