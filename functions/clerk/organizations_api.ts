/**
 * Clerk's Backend API for organizations, over the same GET (and so the same
 * request budget and typed errors) as the users client in `backend_api.ts`.
 *
 * Unlike `GET /v1/users` (a bare array), these lists answer
 * `{data, total_count}`; `limit` is 1 to 500 and `offset` pages. Pages come
 * back as rows ready for the database (see `organizations/rows.ts`): each
 * object is reduced to the fields the schemas read before it is validated,
 * so a page of 500 does not copy every field Clerk sends.
 */
import {
  type CallOptions,
  ClerkApiError,
  type ClerkGet,
  failure,
  isNotFound,
  MAX_PAGE_SIZE,
  readJson,
} from "./backend_api.ts";
import type { RequestPriority } from "./request_budget.ts";
import {
  type ClerkOrganization,
  type ClerkOrganizationMembership,
  clerkOrganizationMembershipSchema,
  clerkOrganizationSchema,
} from "./organization_schemas.ts";
import type { z } from "zod";
import { issuesText } from "../util/zod_issues.ts";

/** One page of a `{data, total_count}` list. */
export interface ClerkPage<T> {
  readonly data: T[];
  /** How many the whole list holds. */
  readonly totalCount: number;
}

/** Paging of a list: `limit` 1 to 500. */
export interface PageQuery {
  readonly limit: number;
  readonly offset: number;
}

/** The organization calls this project makes. */
export interface ClerkOrganizationsApi {
  /** `GET /v1/organizations`, oldest first. */
  listOrganizations(query: PageQuery): Promise<ClerkPage<ClerkOrganization>>;
  /** `GET /v1/organizations/{id}`, or `null` once deleted (404 `resource_not_found`). */
  getOrganization(id: string): Promise<ClerkOrganization | null>;
  /** `GET /v1/organization_memberships`: every membership of the instance, oldest first. */
  listAllMemberships(query: PageQuery): Promise<ClerkPage<ClerkOrganizationMembership>>;
  /**
   * `GET /v1/organizations/{id}/memberships`, filtered by `user_id` when
   * `userIds` is given; `null` when the organization is gone (404).
   */
  listOrganizationMemberships(
    organizationId: string,
    query: PageQuery & { readonly userIds?: readonly string[] },
  ): Promise<ClerkPage<ClerkOrganizationMembership> | null>;
  /** `GET /v1/users/{id}/organization_memberships`. */
  listUserMemberships(
    userId: string,
    query: PageQuery,
    options?: CallOptions,
  ): Promise<ClerkPage<ClerkOrganizationMembership>>;
}

/** Creates the client over `get` (see `createClerkGet`). */
export function createClerkOrganizationsApi(get: ClerkGet): ClerkOrganizationsApi {
  const list = async <T>(
    path: string,
    query: PageQuery,
    extra: [string, string][],
    action: string,
    parse: (value: unknown, action: string) => T,
    priority?: RequestPriority,
  ): Promise<ClerkPage<T> | null> => {
    if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MAX_PAGE_SIZE) {
      throw new RangeError(`${action}: limit must be 1 to ${MAX_PAGE_SIZE}`);
    }
    const params = new URLSearchParams([
      ["limit", String(query.limit)],
      ["offset", String(query.offset)],
      ...extra,
    ]);
    const res = await get(`${path}?${params}`, action, priority);
    if (await isNotFound(res, action)) return null;
    if (!res.ok) throw await failure(res, action);
    const body = await readJson(res, action) as { data?: unknown; total_count?: unknown };
    if (
      typeof body !== "object" || body === null || !Array.isArray(body.data) ||
      typeof body.total_count !== "number"
    ) {
      throw new ClerkApiError(`${action}: expected {data, total_count}`, res.status, false);
    }
    return {
      data: body.data.map((item, i) => parse(item, `${action}: item ${i}`)),
      totalCount: body.total_count,
    };
  };
  const found = <T>(page: ClerkPage<T> | null, action: string): ClerkPage<T> => {
    if (page) return page;
    throw new ClerkApiError(`${action}: Clerk answered 404`, 404, true);
  };

  return {
    async listOrganizations(query) {
      const action = `Cannot list Clerk organizations at offset ${query.offset}`;
      const page = await list(
        "/v1/organizations",
        query,
        [["order_by", "+created_at"]],
        action,
        parseOrganization,
      );
      return found(page, action);
    },

    async getOrganization(id) {
      const action = `Cannot get Clerk organization "${id}"`;
      const res = await get(`/v1/organizations/${encodeURIComponent(id)}`, action);
      if (await isNotFound(res, action)) return null;
      if (!res.ok) throw await failure(res, action);
      return parseOrganization(await readJson(res, action), action);
    },

    async listAllMemberships(query) {
      const action = `Cannot list Clerk organization memberships at offset ${query.offset}`;
      const page = await list(
        "/v1/organization_memberships",
        query,
        [["order_by", "+created_at"]],
        action,
        parseMembership,
      );
      return found(page, action);
    },

    listOrganizationMemberships(organizationId, query) {
      const action = `Cannot list the memberships of Clerk organization "${organizationId}"`;
      return list(
        `/v1/organizations/${encodeURIComponent(organizationId)}/memberships`,
        query,
        [["order_by", "+created_at"], ...(query.userIds ?? []).map((id) => ["user_id", id])] as [
          string,
          string,
        ][],
        action,
        parseMembership,
      );
    },

    async listUserMemberships(userId, query, { priority } = {}) {
      const action = `Cannot list the organization memberships of Clerk user "${userId}"`;
      const page = await list(
        `/v1/users/${encodeURIComponent(userId)}/organization_memberships`,
        query,
        [],
        action,
        parseMembership,
        priority,
      );
      return found(page, action);
    },
  };
}

function parseOrganization(value: unknown, action: string): ClerkOrganization {
  return parsed(clerkOrganizationSchema, knownOrganization(value), action, "organization");
}

function parseMembership(value: unknown, action: string): ClerkOrganizationMembership {
  const item = record(value);
  const known = item
    ? {
      id: item.id,
      role: item.role,
      permissions: item.permissions,
      organization: knownOrganization(item.organization),
      public_user_data: ((user) => user ? { user_id: user.user_id } : item.public_user_data)(
        record(item.public_user_data),
      ),
      created_at: item.created_at,
      updated_at: item.updated_at,
    }
    : value;
  return parsed(clerkOrganizationMembershipSchema, known, action, "membership");
}

/** Only the fields the schema reads: private metadata and counts are dropped here. */
function knownOrganization(value: unknown): unknown {
  const org = record(value);
  if (!org) return value;
  return {
    id: org.id,
    name: org.name,
    slug: org.slug,
    image_url: org.image_url,
    public_metadata: org.public_metadata,
    created_by: org.created_by,
    created_at: org.created_at,
    updated_at: org.updated_at,
  };
}

/** `value` as an object's fields, or undefined when it is not a plain object. */
export function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : undefined;
}

/** `value` parsed with `schema`, or a permanent ClerkApiError naming `what` and the issues. */
export function parsed<T>(schema: z.ZodType<T>, value: unknown, action: string, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ClerkApiError(
    `${action}: not a Clerk ${what} (${issuesText(result.error)})`,
    200,
    true,
  );
}
