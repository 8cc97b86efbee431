// The container's config.json as seen on a host where its network namespace has
// another path (a migration's destination, or a container back at its stand-in).
import type { SpecConfig } from '../../../bundle/spec-types';

/** The config with its network namespace path replaced by `netnsPath`. */
export function withNetns(configJson: string, netnsPath: string): string {
  const config = JSON.parse(configJson) as SpecConfig;
  for (const ns of config.linux?.namespaces ?? []) if (ns.type === 'network' && ns.path) ns.path = netnsPath;
  return JSON.stringify(config);
}
