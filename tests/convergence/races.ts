/**
 * SQL races, which only a server with concurrent connections can show (the
 * embedded PGlite serves one at a time; the simulation covers orderings
 * there). A round sets up a user who joined an organization, left and
 * joined again, with the "left" message lost, then lets every writer of
 * that (organization, user) pair run at once: the two membership runs of
 * the webhook path and /users/me/sync. At most one membership of the pair
 * may be live at any moment, not only at rest.
 *
 * Real concurrency is not replayable step by step: a round that breaks the
 * invariant is reported with its number, and the same setup races again on
 * every run.
 */
import { within } from "../support/bounded.ts";
import { mintSessionToken } from "../support/session_tokens.ts";
import { ClerkModel } from "./clerk_model.ts";
import { deliverMessage, drain } from "./simulate.ts";
import { type Base, createWorld, resetDatabase, withGlobalFetch } from "./world.ts";

/** The SQL functions of the two paths that write a membership. */
const WRITERS = [
  "apply_organization_membership_from_clerk",
  "sync_user_memberships_from_clerk_api",
];

/** Plays one round; returns what diverged (nothing when at most one membership was live). */
export async function membershipRace(base: Base, round: number): Promise<string[]> {
  await resetDatabase(base.sql);
  const world = await createWorld(base, { provider: "mailchimp" });
  try {
    return await withGlobalFetch(world, async () => {
      const model = new ClerkModel(world.clerk, `race${round}`, Date.now() - 60_000);
      const [user] = model.apply({ do: "createUser", user: 0, consent: "absent" }, 1_000);
      const [org] = model.apply({ do: "createOrg", org: 0 }, 1_000);
      const [first] = model.apply({ do: "join", org: 0, user: 0, admin: false }, 1_000);
      model.apply({ do: "leave", org: 0, user: 0 }, 1_000);
      const [second] = model.apply({ do: "join", org: 0, user: 0, admin: true }, 1_000);
      for (const message of [user, org]) await deliverMessage(world, message);
      await drain(world, [], "setup");
      for (const message of [first, second]) await deliverMessage(world, message);
      // The token's active organization is not among the stored memberships:
      // /users/me/sync reads the user's memberships from Clerk and applies them.
      const token = await mintSessionToken(world.instance, {
        sub: model.users.get(0)!.id,
        claims: { o: { id: model.orgs.get(0)!.id, rol: "admin" } },
      });
      // The membership runs share a concurrency key (the user): Inngest lets
      // one step of them run at a time, so the old membership's run races
      // /users/me/sync, which applies the new one.
      const [run] = world.engine.ready().filter((r) =>
        r.functionId.includes("membership") && r.event.data.id === first.objectId
      );
      // Both writes are held until both are ready, then go at once.
      let arrived = 0;
      let go!: () => void;
      const together = new Promise<void>((resolve) => go = resolve);
      world.beforeSend = async (service, req) => {
        if (service !== "database" || !WRITERS.some((fn) => req.url.endsWith(`/rpc/${fn}`))) return;
        if (++arrived === 2) go();
        await within(together, 2_000, "the other writer of the pair to be ready");
      };
      const writers: Promise<unknown>[] = [world.engine.step(run)];
      writers.unshift(
        world.app.handler(
          new Request("http://localhost/clerk-events/users/me/sync", {
            method: "POST",
            headers: { authorization: `Bearer ${token}` },
          }),
        ).then((res) => res.body?.cancel()),
      );
      await Promise.all(writers);
      world.beforeSend = undefined;
      if (arrived < 2) return [`round ${round}: only ${arrived} writer(s) reached the database`];
      const live = await base.sql<{ id: string }[]>`
        select id from public.organization_memberships
         where organization_id = ${model.orgs.get(0)!.id}
           and user_id = ${model.users.get(0)!.id} and deleted_at is null`;
      await drain(world, [], "end");
      return live.length > 1
        ? [`round ${round}: ${live.length} live memberships of one pair (${live.map((r) => r.id)})`]
        : [];
    });
  } finally {
    await world.close();
  }
}
