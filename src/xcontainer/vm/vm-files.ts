// The names QEMU's files and sockets have in a VM's state dir (QEMU runs there, which
// keeps unix socket paths short whatever --root is), and QEMU's option-value quoting:
// shared by qemu-argv.ts and the devices' own parts (devices/), which qemu-argv.ts
// imports, so they cannot import it back.
export const AGENT_SOCKET = 'agent.sock';
export const QMP_SOCKET = 'qmp.sock';
export const CONSOLE_LOG = 'console.log';
export const ROOT_DISK = 'rootfs.ext4';

/** QEMU option values double their commas. */
export function optionValue(s: string): string {
  return s.replace(/,/g, ',,');
}
