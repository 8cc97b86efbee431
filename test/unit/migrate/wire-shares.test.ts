// refuseWireShares: a Prepare never gets a host path shared.
import { describe, expect, it } from 'vitest';
import { refuseWireShares } from '../../../src/migrate/wire-shares';

describe('wire shares', () => {
  it('refuses share_paths and bind mounts in config_json, takes neither', () => {
    expect(() => refuseWireShares({ containerId: 'c', sharePaths: ['/', '/etc'], configJson: '{}' })).toThrow(/share_paths is refused \(2 path/);
    const bind = JSON.stringify({ mounts: [{ destination: '/proc', type: 'proc' }, { destination: '/h', source: '/', options: ['rbind'] }] });
    expect(() => refuseWireShares({ containerId: 'c', sharePaths: [], configJson: bind })).toThrow(/config_json mounts\[1\] is a bind mount/);
    expect(() => refuseWireShares({ containerId: 'c', sharePaths: [], configJson: '{' })).toThrow(/not JSON/);
    expect(() => refuseWireShares({ containerId: 'c', sharePaths: [], configJson: '{"mounts":[]}' })).not.toThrow();
  });
});
