/**
 * What the workflows need from the outside, passed in by the app.
 */
import type { Logger } from "../util/log.ts";
import type { UsersStore } from "./users_store.ts";

/** Dependencies of the user workflows. */
export interface UserWorkflowDeps {
  /**
   * The users store. Resolved on first use, so that modules only the
   * workflows need are not loaded on the webhook path. Rejects with a clear
   * message when the database settings are invalid.
   */
  readonly users: () => Promise<UsersStore>;
  readonly logger: Logger;
}
