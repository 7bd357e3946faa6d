/**
 * `sync-organization-membership-from-clerk`: mirrors Clerk organization
 * memberships into `public.organization_memberships`. Created and updated
 * ones are upserted (newest `updated_at` wins); a deleted one (whose payload
 * is the whole membership) stops being live at the event's `ts`. A
 * membership may arrive before its organization or user; it is born not
 * live when either is a tombstone. The organization embedded in the payload
 * is applied too (newest wins), so that members can read it at once.
 */
import type { Inngest } from "inngest";
import {
  clerkOrganizationMembershipSchema,
  clerkOrganizationSchema,
} from "../clerk/organization_schemas.ts";
import {
  organizationMembershipCreated,
  organizationMembershipDeleted,
  organizationMembershipUpdated,
} from "./events.ts";
import { toMembershipRow, toOrganizationRow } from "./rows.ts";
import { loggedWrite, parseInput } from "../inngest/step_errors.ts";
import type { OrganizationWorkflowDeps } from "./sync_organization.ts";

/** The function id. */
export const SYNC_MEMBERSHIP_FUNCTION_ID = "sync-organization-membership-from-clerk";

/** Creates `sync-organization-membership-from-clerk` on `client`. */
export function createSyncMembershipFunction(client: Inngest, deps: OrganizationWorkflowDeps) {
  return client.createFunction(
    {
      id: SYNC_MEMBERSHIP_FUNCTION_ID,
      name: "Sync organization membership from Clerk",
      triggers: [
        organizationMembershipCreated,
        organizationMembershipUpdated,
        organizationMembershipDeleted,
      ],
      // One run per member at a time: a re-join ends the user's older
      // membership of the organization, so their events do not race.
      concurrency: { key: "event.data.public_user_data.user_id", limit: 1 },
      retries: 10,
    },
    async ({ event, step }) => {
      const membership = parseInput(
        clerkOrganizationMembershipSchema,
        event.data,
        "Cannot sync organization membership",
      );
      const deleted = event.name === organizationMembershipDeleted.name;
      const row = toMembershipRow(
        membership,
        deleted ? new Date(event.ts ?? Date.now()).toISOString() : undefined,
      );
      // The embedded organization, when it is a whole one (webhooks carry it).
      const embedded = clerkOrganizationSchema.safeParse(membership.organization);
      const outcome = await step.run("upsert-membership", () =>
        loggedWrite(
          deps.logger,
          deleted ? "Organization membership ended" : "Organization membership synced",
          {
            membership_id: row.id,
            organization_id: row.organization_id,
            user_id: row.user_id,
            event: event.name,
            event_id: event.id,
          },
          `Cannot sync organization membership "${row.id}"`,
          async () => {
            const store = await deps.organizations();
            if (embedded.success) await store.upsertOrganization(toOrganizationRow(embedded.data));
            return store.upsertMembership(row);
          },
        ));
      return { membershipId: row.id, outcome };
    },
  );
}
