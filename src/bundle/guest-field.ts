// The value of one field of a guest-agent control message, as the bundle's plans
// (guest-plan, guest-resources) produce them. Defined here, below both: the agent's
// wire code (xcontainer/agent/agent-messages) encodes it, the bundle does not import it.
export type FieldValue = string | number | boolean | ReadonlyArray<string | number>;
