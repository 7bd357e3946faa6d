/**
 * A local stand-in for Clerk's Backend API that behaves like the real one
 * where this project depends on it:
 *
 * - `GET /v1/users` answers a bare JSON array of User objects (the same
 *   snake_case objects webhooks carry), with `limit` (1 to 500, default 10),
 *   `offset` and `order_by` (`created_at`, `updated_at`, with `+`/`-`;
 *   default `-created_at`); anything else is a 422 in Clerk's error shape;
 * - `GET /v1/users/{id}` answers the user, or 404 `resource_not_found` for a
 *   deleted (or never existing) user;
 * - a wrong or missing secret key gets 401 `authentication_invalid`;
 * - past its rate limit it answers 429 with `Retry-After` in seconds;
 * - `GET /v1/jwks` answers the instance's public keys (`jwks`), with the
 *   same secret key and rate limit as every other call;
 * - organizations: `GET /v1/organizations` (`order_by` `created_at`, `name`
 *   or `members_count`, default `-created_at`), `GET /v1/organizations/{id}`,
 *   `GET /v1/organizations/{id}/memberships` (repeatable `user_id` filter),
 *   `GET /v1/organization_memberships` (the whole instance) and
 *   `GET /v1/users/{id}/organization_memberships` answer `{data, total_count}`
 *   pages, with the same `limit` and `offset` rules as `/v1/users`; a
 *   deleted organization answers 404 `resource_not_found` and takes its
 *   memberships with it, as Clerk does;
 * - `freezeLists()` makes the lists lag behind the data (reads by id stay
 *   current) until `thawLists()`.
 *
 * It records every request with the status it got, so tests count what the
 * code really sent. More routes plug in with `route()`.
 */

/** A Clerk User object as the API returns it: known fields plus many others. */
export type ClerkUserObject = Record<string, unknown> & {
  id: string;
  created_at: number;
  updated_at: number;
};

/** A Clerk Organization object as the API returns it. */
export type ClerkOrganizationObject = Record<string, unknown> & {
  id: string;
  created_at: number;
  updated_at: number;
};

/** A Clerk OrganizationMembership object as the API returns it (organization embedded). */
export type ClerkMembershipObject = Record<string, unknown> & {
  id: string;
  organization: ClerkOrganizationObject;
  public_user_data: Record<string, unknown> & { user_id: string };
  created_at: number;
  updated_at: number;
};

/** One request that reached the stand-in. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** The status it was answered with. */
  status: number;
}

/** A rate limit: at most `limit` requests per fixed window of `windowMs`. */
export interface RateLimit {
  readonly limit: number;
  readonly windowMs: number;
}

/** Handles one route; `match` is the result of the route's pattern. */
export type RouteHandler = (
  req: Request,
  match: RegExpExecArray,
) => Response | Promise<Response>;

/** Options for {@link startClerkApi}. */
export interface ClerkApiOptions {
  /** The key the stand-in accepts. Default {@link TEST_CLERK_SECRET_KEY}. */
  readonly secretKey?: string;
  /** Default: 100 requests per 10 s, a development instance's limit. */
  readonly rateLimit?: RateLimit;
}

/** A running stand-in. */
export interface ClerkApi {
  /** The value for `CLERK_API_URL`. */
  readonly url: string;
  readonly secretKey: string;
  /** Every request, in order, with its status. */
  readonly requests: RecordedRequest[];
  /** Requests answered without a 401 or 429: what Clerk would have served. */
  accepted(): RecordedRequest[];
  /** Changeable while running; `undefined` for no limit. */
  rateLimit: RateLimit | undefined;
  /**
   * Called for each request after it is authenticated and counted, before
   * it is answered: lets a test change Clerk's data mid-run.
   */
  onRequest: (request: RecordedRequest) => void | Promise<void>;
  /** What `GET /v1/jwks` answers; changeable while running (a key rotation). */
  jwks: { keys: JsonWebKey[] };
  /** Adds (or replaces) a user. */
  putUser(user: ClerkUserObject): void;
  /** Changes a user's fields and moves its `updated_at` forward. */
  updateUser(id: string, patch: Record<string, unknown>): ClerkUserObject;
  /** Deletes a user: it leaves the list and `GET` answers 404. */
  deleteUser(id: string): void;
  /** The current users, in no particular order. */
  users(): IterableIterator<ClerkUserObject>;
  /** Adds (or replaces) an organization. */
  putOrganization(org: ClerkOrganizationObject): void;
  /** Changes an organization's fields and moves its `updated_at` forward. */
  updateOrganization(id: string, patch: Record<string, unknown>): ClerkOrganizationObject;
  /** Deletes an organization and its memberships: `GET` answers 404. */
  deleteOrganization(id: string): void;
  /** Adds (or replaces) a membership. */
  putMembership(membership: ClerkMembershipObject): void;
  /** Changes a membership's fields and moves its `updated_at` forward. */
  updateMembership(id: string, patch: Record<string, unknown>): ClerkMembershipObject;
  /** Deletes a membership (the user left). */
  deleteMembership(id: string): void;
  organizations(): IterableIterator<ClerkOrganizationObject>;
  memberships(): IterableIterator<ClerkMembershipObject>;
  /**
   * From now on the list endpoints (`/v1/users`, `/v1/organizations`, every
   * memberships list) answer from a copy of the data as it is now, while
   * reads by id stay current: Clerk's lists lag behind its writes.
   */
  freezeLists(): void;
  /** The lists answer from the current data again. */
  thawLists(): void;
  /** Adds a route, tried before the built-in ones. */
  route(method: string, pattern: RegExp, handler: RouteHandler): void;
  /** Answers one request in process, as the server would (no socket). */
  readonly handle: (req: Request) => Promise<Response>;
  close(): Promise<void>;
}

/** The data the list endpoints answer from. */
interface Listed {
  readonly users: ReadonlyMap<string, ClerkUserObject>;
  readonly orgs: ReadonlyMap<string, ClerkOrganizationObject>;
  readonly memberships: ReadonlyMap<string, ClerkMembershipObject>;
  readonly byOrg: ReadonlyMap<string, ReadonlySet<string>>;
}

/** The secret key tests configure by default. */
export const TEST_CLERK_SECRET_KEY = "sk_test_" + "c1e4c".repeat(8);

/** Clerk's development-instance limit. */
export const DEVELOPMENT_RATE_LIMIT: RateLimit = { limit: 100, windowMs: 10_000 };

const ORDER_FIELDS = ["created_at", "updated_at"] as const;

/** Starts the stand-in on a free loopback port. */
export function startClerkApi(options: ClerkApiOptions = {}): ClerkApi {
  const secretKey = options.secretKey ?? TEST_CLERK_SECRET_KEY;
  const store = new Map<string, ClerkUserObject>();
  const sorted = new Map<string, ClerkUserObject[]>();
  const routes: { method: string; pattern: RegExp; handler: RouteHandler }[] = [];
  let window = { start: 0, count: 0 };
  const orgs = new Map<string, ClerkOrganizationObject>();
  const memberships = new Map<string, ClerkMembershipObject>();
  /** Membership ids by organization id. */
  const byOrg = new Map<string, Set<string>>();
  const sortedLists = new Map<string, Record<string, unknown>[]>();
  const forget = () => sortedLists.clear();
  // What the lists answer from: the live data, or a copy frozen by freezeLists().
  let frozen: Listed | undefined;
  const listed = (): Listed => frozen ?? { users: store, orgs, memberships, byOrg };

  const api: ClerkApi = {
    url: "",
    secretKey,
    requests: [],
    accepted: () => api.requests.filter((r) => r.status !== 401 && r.status !== 429),
    rateLimit: options.rateLimit ?? DEVELOPMENT_RATE_LIMIT,
    onRequest: () => {},
    jwks: { keys: [] },
    putUser(user) {
      store.set(user.id, structuredClone(user));
      sorted.clear();
    },
    updateUser(id, patch) {
      const user = store.get(id);
      if (!user) throw new Error(`Cannot update Clerk user "${id}": no such user`);
      const updated = {
        ...user,
        ...patch,
        updated_at: Math.max(Date.now(), user.updated_at + 1),
      };
      store.set(id, updated);
      sorted.clear();
      return updated;
    },
    deleteUser(id) {
      store.delete(id);
      sorted.clear();
    },
    users: () => store.values(),
    putOrganization(org) {
      orgs.set(org.id, structuredClone(org));
      forget();
    },
    updateOrganization(id, patch) {
      const org = orgs.get(id);
      if (!org) throw new Error(`Cannot update Clerk organization "${id}": no such organization`);
      const updated = { ...org, ...patch, updated_at: Math.max(Date.now(), org.updated_at + 1) };
      orgs.set(id, updated);
      forget();
      return updated;
    },
    deleteOrganization(id) {
      orgs.delete(id);
      for (const membershipId of byOrg.get(id) ?? []) memberships.delete(membershipId);
      byOrg.delete(id);
      forget();
    },
    putMembership(membership) {
      memberships.set(membership.id, structuredClone(membership));
      const ids = byOrg.get(membership.organization.id) ?? new Set();
      ids.add(membership.id);
      byOrg.set(membership.organization.id, ids);
      forget();
    },
    updateMembership(id, patch) {
      const membership = memberships.get(id);
      if (!membership) {
        throw new Error(`Cannot update Clerk membership "${id}": no such membership`);
      }
      const updated = {
        ...membership,
        ...patch,
        updated_at: Math.max(Date.now(), membership.updated_at + 1),
      };
      memberships.set(id, updated);
      forget();
      return updated;
    },
    deleteMembership(id) {
      const membership = memberships.get(id);
      memberships.delete(id);
      if (membership) byOrg.get(membership.organization.id)?.delete(id);
      forget();
    },
    organizations: () => orgs.values(),
    memberships: () => memberships.values(),
    freezeLists() {
      frozen = {
        users: new Map(store),
        orgs: new Map(orgs),
        memberships: new Map(memberships),
        byOrg: new Map([...byOrg].map(([id, ids]) => [id, new Set(ids)])),
      };
      sorted.clear();
      forget();
    },
    thawLists() {
      frozen = undefined;
      sorted.clear();
      forget();
    },
    route(method, pattern, handler) {
      routes.push({ method, pattern, handler });
    },
    handle: (req) => handle(req),
    close: () => server.shutdown(),
  };

  const ordered = (orderBy: string) => {
    let list = sorted.get(orderBy);
    if (!list) {
      const field = orderBy.replace(/^[+-]/, "") as typeof ORDER_FIELDS[number];
      const sign = orderBy.startsWith("-") ? -1 : 1;
      // Ties are broken by id, so that paging by offset is stable.
      list = [...listed().users.values()].sort((a, b) =>
        sign * (a[field] - b[field]) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
      );
      sorted.set(orderBy, list);
    }
    return list;
  };

  const listUsers = (query: URLSearchParams): Response => {
    const limit = integerParam(query, "limit", 10);
    if (limit === undefined || limit < 1 || limit > 500) {
      return clerkError(422, "form_param_value_invalid", "limit", "must be between 1 and 500");
    }
    const offset = integerParam(query, "offset", 0);
    if (offset === undefined || offset < 0) {
      return clerkError(422, "form_param_value_invalid", "offset", "must be 0 or more");
    }
    const orderBy = query.get("order_by") ?? "-created_at";
    const field = orderBy.replace(/^[+-]/, "");
    if (!(ORDER_FIELDS as readonly string[]).includes(field)) {
      return clerkError(422, "form_param_value_invalid", "order_by", "is not a valid sort field");
    }
    const normalized = orderBy.startsWith("-") ? orderBy : `+${field}`;
    return Response.json(ordered(normalized).slice(offset, offset + limit));
  };

  /** `{data, total_count}` for `items`, sorted by `order_by` among `fields`, paged. */
  const page = (
    key: string,
    items: () => Iterable<Record<string, unknown>>,
    query: URLSearchParams,
    fields: readonly string[],
    embed: (item: Record<string, unknown>) => Record<string, unknown> = (item) => item,
  ): Response => {
    const limit = integerParam(query, "limit", 10);
    if (limit === undefined || limit < 1 || limit > 500) {
      return clerkError(422, "form_param_value_invalid", "limit", "must be between 1 and 500");
    }
    const offset = integerParam(query, "offset", 0);
    if (offset === undefined || offset < 0) {
      return clerkError(422, "form_param_value_invalid", "offset", "must be 0 or more");
    }
    const orderBy = query.get("order_by") ?? "-created_at";
    const field = orderBy.replace(/^[+-]/, "");
    if (!fields.includes(field)) {
      return clerkError(422, "form_param_value_invalid", "order_by", "is not a valid sort field");
    }
    const sign = orderBy.startsWith("-") ? -1 : 1;
    const cacheKey = `${key} ${sign} ${field}`;
    let list = sortedLists.get(cacheKey);
    if (!list) {
      list = [...items()].sort((a, b) => {
        const [x, y] = [a[field] as number | string, b[field] as number | string];
        return sign * (x < y ? -1 : x > y ? 1 : 0) || (a.id! < b.id! ? -1 : a.id! > b.id! ? 1 : 0);
      });
      sortedLists.set(cacheKey, list);
    }
    return Response.json({
      data: list.slice(offset, offset + limit).map(embed),
      total_count: list.length,
    });
  };

  const withOrganization = (item: Record<string, unknown>) => {
    const membership = item as ClerkMembershipObject;
    const org = listed().orgs.get(membership.organization.id);
    return org ? { ...membership, organization: org } : membership;
  };

  const notFound = () =>
    Response.json({
      errors: [{
        message: "not found",
        long_message: "Resource not found",
        code: "resource_not_found",
      }],
      clerk_trace_id: crypto.randomUUID(),
    }, { status: 404 });

  const organizationRoutes = (url: URL): Response | undefined => {
    const path = url.pathname;
    const query = url.searchParams;
    if (path === "/v1/organizations") {
      return page("orgs", () => listed().orgs.values(), query, [
        "created_at",
        "name",
        "members_count",
      ]);
    }
    if (path === "/v1/organization_memberships") {
      return page(
        "memberships",
        () => listed().memberships.values(),
        query,
        ["created_at"],
        withOrganization,
      );
    }
    const org = /^\/v1\/organizations\/([^/]+)(\/memberships)?$/.exec(path);
    if (org) {
      const id = decodeURIComponent(org[1]);
      const found = (org[2] ? listed().orgs : orgs).get(id);
      if (!found) return notFound();
      if (!org[2]) return Response.json(found);
      const users = query.getAll("user_id");
      const of = () =>
        [...listed().byOrg.get(id) ?? []].map((m) => listed().memberships.get(m)!)
          .filter((m) => users.length === 0 || users.includes(m.public_user_data.user_id));
      return page(`org ${id} ${users.join(",")}`, of, query, ["created_at"], withOrganization);
    }
    const user = /^\/v1\/users\/([^/]+)\/organization_memberships$/.exec(path);
    if (user) {
      const id = decodeURIComponent(user[1]);
      const of = () =>
        [...listed().memberships.values()].filter((m) => m.public_user_data.user_id === id);
      return page(`user ${id}`, of, query, ["created_at"], withOrganization);
    }
    return undefined;
  };

  const getUser = (id: string): Response => {
    const user = store.get(decodeURIComponent(id));
    if (!user) {
      return Response.json({
        errors: [{
          message: "not found",
          long_message: "Resource not found",
          code: "resource_not_found",
        }],
        clerk_trace_id: crypto.randomUUID(),
      }, { status: 404 });
    }
    return Response.json(user);
  };

  const handle = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const recorded: RecordedRequest = {
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      status: 0,
    };
    api.requests.push(recorded);
    await req.body?.cancel();
    const answer = (res: Response) => {
      recorded.status = res.status;
      return res;
    };

    for (const route of routes) {
      const match = route.method === req.method ? route.pattern.exec(url.pathname) : null;
      if (match) return answer(await route.handler(req, match));
    }
    if (req.headers.get("authorization") !== `Bearer ${secretKey}`) {
      return answer(clerkError(401, "authentication_invalid", undefined, "Invalid authentication"));
    }
    const limited = rateLimited();
    if (limited) return answer(limited);
    await api.onRequest(recorded);

    if (req.method === "GET" && url.pathname === "/v1/jwks") return answer(Response.json(api.jwks));

    if (req.method === "GET" && url.pathname === "/v1/users") {
      return answer(listUsers(url.searchParams));
    }
    const user = /^\/v1\/users\/([^/]+)$/.exec(url.pathname);
    if (req.method === "GET" && user) return answer(getUser(user[1]));
    const organizations = req.method === "GET" ? organizationRoutes(url) : undefined;
    if (organizations) return answer(organizations);
    return answer(clerkError(404, "resource_not_found", undefined, "not found"));
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handle);

  const rateLimited = (): Response | undefined => {
    const limit = api.rateLimit;
    if (!limit) return undefined;
    const now = Date.now();
    if (now - window.start >= limit.windowMs) window = { start: now, count: 0 };
    if (window.count < limit.limit) {
      window.count += 1;
      return undefined;
    }
    const seconds = Math.max(1, Math.ceil((window.start + limit.windowMs - now) / 1000));
    return Response.json({
      errors: [{
        message: "Too many requests",
        long_message: "Too many requests, please try again later",
        code: "too_many_requests",
      }],
    }, { status: 429, headers: { "retry-after": String(seconds) } });
  };

  (api as { url: string }).url = `http://127.0.0.1:${server.addr.port}`;
  return api;
}

function integerParam(query: URLSearchParams, name: string, fallback: number) {
  const raw = query.get(name);
  if (raw === null) return fallback;
  return /^\d+$/.test(raw) ? Number(raw) : undefined;
}

function clerkError(
  status: number,
  code: string,
  paramName: string | undefined,
  message: string,
): Response {
  return Response.json({
    errors: [{
      message: paramName ? `${paramName} ${message}` : message,
      long_message: paramName ? `The value of ${paramName} ${message}` : message,
      code,
      ...(paramName ? { meta: { param_name: paramName } } : {}),
    }],
    clerk_trace_id: crypto.randomUUID(),
  }, { status });
}

let sequence = 0;

/** Fields of {@link clerkUser}, all optional. */
export interface ClerkUserFields {
  id?: string;
  email?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  createdAt?: number;
  updatedAt?: number;
}

/**
 * A User object shaped like the Backend API's: with fields this project
 * does not read, and two addresses of which the second is primary.
 */
export function clerkUser(fields: ClerkUserFields = {}): ClerkUserObject {
  sequence += 1;
  const id = fields.id ?? `user_${crypto.randomUUID().replaceAll("-", "").slice(0, 27)}`;
  const createdAt = fields.createdAt ?? 1_700_000_000_000 + sequence;
  const email = fields.email === undefined ? `${id.toLowerCase()}@example.com` : fields.email;
  const primary = `idn_${id.slice(5)}p`;
  return {
    id,
    object: "user",
    username: null,
    first_name: fields.firstName === undefined ? "Ada" : fields.firstName,
    last_name: fields.lastName === undefined ? "Lovelace" : fields.lastName,
    image_url: `https://img.clerk.com/${id}`,
    has_image: false,
    primary_email_address_id: email === null ? null : primary,
    primary_phone_number_id: null,
    primary_web3_wallet_id: null,
    password_enabled: true,
    two_factor_enabled: false,
    totp_enabled: false,
    backup_code_enabled: false,
    email_addresses: email === null ? [] : [
      {
        id: `idn_${id.slice(5)}o`,
        object: "email_address",
        email_address: `old.${email}`,
        reserved: false,
        verification: { status: "verified", strategy: "email_code", attempts: 1, expire_at: 0 },
        linked_to: [],
        created_at: createdAt,
        updated_at: createdAt,
      },
      {
        id: primary,
        object: "email_address",
        email_address: email,
        reserved: false,
        verification: { status: "verified", strategy: "email_code", attempts: 1, expire_at: 0 },
        linked_to: [],
        created_at: createdAt,
        updated_at: createdAt,
      },
    ],
    phone_numbers: [],
    web3_wallets: [],
    passkeys: [],
    external_accounts: [],
    saml_accounts: [],
    enterprise_accounts: [],
    public_metadata: {},
    private_metadata: {},
    unsafe_metadata: {},
    external_id: null,
    last_sign_in_at: null,
    banned: false,
    locked: false,
    lockout_expires_in_seconds: null,
    verification_attempts_remaining: 100,
    created_at: createdAt,
    updated_at: fields.updatedAt ?? createdAt,
    delete_self_enabled: true,
    create_organization_enabled: true,
    last_active_at: null,
    mfa_enabled_at: null,
    mfa_disabled_at: null,
    legal_accepted_at: null,
  };
}

/** Fields of {@link clerkOrganization}, all optional. */
export interface ClerkOrganizationFields {
  id?: string;
  name?: string;
  slug?: string | null;
  createdBy?: string | null;
  createdAt?: number;
  updatedAt?: number;
  publicMetadata?: Record<string, unknown>;
}

/** An Organization object shaped like the Backend API's, with fields this project does not read. */
export function clerkOrganization(fields: ClerkOrganizationFields = {}): ClerkOrganizationObject {
  sequence += 1;
  const id = fields.id ?? `org_${crypto.randomUUID().replaceAll("-", "").slice(0, 27)}`;
  const createdAt = fields.createdAt ?? 1_700_000_000_000 + sequence;
  const name = fields.name ?? `Acme ${sequence}`;
  return {
    object: "organization",
    id,
    name,
    slug: fields.slug === undefined ? name.toLowerCase().replaceAll(" ", "-") : fields.slug,
    image_url: `https://img.clerk.com/${id}`,
    has_image: false,
    members_count: 1,
    missing_member_with_elevated_permissions: false,
    pending_invitations_count: 0,
    max_allowed_memberships: 5,
    admin_delete_enabled: true,
    public_metadata: fields.publicMetadata ?? { plan: "team" },
    private_metadata: { stripe_customer: "cus_secret" },
    created_by: fields.createdBy === undefined ? null : fields.createdBy,
    created_at: createdAt,
    updated_at: fields.updatedAt ?? createdAt,
  };
}

/** Fields of {@link clerkMembership}. */
export interface ClerkMembershipFields {
  id?: string;
  organization: ClerkOrganizationObject;
  userId: string;
  role?: string;
  createdAt?: number;
  updatedAt?: number;
}

/**
 * An OrganizationMembership object shaped like the Backend API's: the
 * organization embedded, the member's public user data (names, identifier)
 * and private metadata that must never be stored.
 */
export function clerkMembership(fields: ClerkMembershipFields): ClerkMembershipObject {
  sequence += 1;
  const id = fields.id ?? `orgmem_${crypto.randomUUID().replaceAll("-", "").slice(0, 27)}`;
  const createdAt = fields.createdAt ?? 1_700_000_000_000 + sequence;
  const role = fields.role ?? "org:member";
  return {
    object: "organization_membership",
    id,
    role,
    role_name: role === "org:admin" ? "Admin" : "Member",
    permissions: role === "org:admin"
      ? ["org:sys_memberships:manage", "org:sys_memberships:read", "org:sys_profile:manage"]
      : ["org:sys_memberships:read"],
    public_metadata: {},
    private_metadata: { internal_note: "never stored" },
    organization: fields.organization,
    public_user_data: {
      user_id: fields.userId,
      first_name: "Ada",
      last_name: "Lovelace",
      image_url: "https://img.clerk.com/user",
      has_image: false,
      identifier: `${fields.userId.toLowerCase()}@example.com`,
      profile_image_url: "https://www.gravatar.com/avatar?d=mp",
    },
    created_at: createdAt,
    updated_at: fields.updatedAt ?? createdAt,
  };
}
