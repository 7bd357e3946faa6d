/**
 * `sync-organization-from-clerk`: mirrors Clerk organizations into
 * `public.organizations`: created and updated ones are upserted (newest
 * `updated_at` wins), a deleted one becomes a tombstone at the event's `ts`
 * (its payload has no `updated_at`), which also ends its memberships.
 */
import type { Inngest } from "inngest";
import {
  clerkDeletedOrganizationSchema,
  clerkOrganizationSchema,
} from "../clerk/organization_schemas.ts";
import { organizationCreated, organizationDeleted, organizationUpdated } from "./events.ts";
import { toOrganizationRow } from "./rows.ts";
import type { OrganizationsStore } from "./store.ts";
import type { Logger } from "../util/log.ts";
import { loggedWrite, parseInput } from "../inngest/step_errors.ts";

/** The function id. */
export const SYNC_ORGANIZATION_FUNCTION_ID = "sync-organization-from-clerk";

/** Dependencies of the organization workflows. */
export interface OrganizationWorkflowDeps {
  /** Resolved on first use, so the webhook path loads none of it. */
  readonly organizations: () => Promise<OrganizationsStore>;
  readonly logger: Logger;
}

/** Creates `sync-organization-from-clerk` on `client`. */
export function createSyncOrganizationFunction(client: Inngest, deps: OrganizationWorkflowDeps) {
  return client.createFunction(
    {
      id: SYNC_ORGANIZATION_FUNCTION_ID,
      name: "Sync organization from Clerk",
      triggers: [organizationCreated, organizationUpdated, organizationDeleted],
      // One run per organization at a time; order does not matter for
      // correctness (the SQL keeps the newest version and the tombstone).
      concurrency: { key: "event.data.id", limit: 1 },
      retries: 10,
    },
    async ({ event, step }) => {
      const ids = { event: event.name, event_id: event.id };
      if (event.name === organizationDeleted.name) {
        const { id } = parseInput(
          clerkDeletedOrganizationSchema,
          event.data,
          "Cannot delete organization",
        );
        // The event's ts is the Clerk envelope's timestamp: when Clerk
        // deleted it, the same on every retry.
        const deletedAt = new Date(event.ts ?? Date.now()).toISOString();
        const outcome = await step.run("tombstone-organization", () =>
          loggedWrite(
            deps.logger,
            "Organization tombstoned",
            { organization_id: id, ...ids },
            `Cannot delete organization "${id}"`,
            async () => (await deps.organizations()).deleteOrganization(id, deletedAt),
          ));
        return { organizationId: id, outcome };
      }
      const row = toOrganizationRow(
        parseInput(clerkOrganizationSchema, event.data, "Cannot sync organization"),
      );
      const outcome = await step.run("upsert-organization", () =>
        loggedWrite(
          deps.logger,
          "Organization synced",
          { organization_id: row.id, ...ids },
          `Cannot sync organization "${row.id}"`,
          async () => (await deps.organizations()).upsertOrganization(row),
        ));
      return { organizationId: row.id, outcome };
    },
  );
}
