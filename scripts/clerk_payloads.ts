/**
 * Clerk webhook deliveries for local tools: realistic payloads, signed the
 * way Svix signs them, with svix's own `Webhook.sign`.
 *
 * The built-in payloads copy the shape of real Clerk events, including
 * fields the docs do not list, so that what works against them works against
 * Clerk. Addresses use `example.com`. Nothing here reads the environment or
 * the network; `deno task webhook:send` and the tests wire it up.
 */
import { Webhook } from "svix";
import { BILLING_EVENT_TYPES, billingData, isBillingEventType } from "./clerk_billing_payloads.ts";
import {
  EMAIL_EVENT_TYPES,
  isEmailEventType,
  verificationCodeEmail,
} from "./clerk_email_payloads.ts";
import { clerkId } from "./clerk_ids.ts";

/** The Clerk event types with a built-in payload: the user's, Clerk Billing's, and an email's. */
export const CLERK_EVENT_TYPES = [
  "user.created",
  "user.updated",
  "user.deleted",
  ...BILLING_EVENT_TYPES,
  ...EMAIL_EVENT_TYPES,
] as const;

/** A Clerk event type with a built-in payload. */
export type ClerkEventType = typeof CLERK_EVENT_TYPES[number];

/** A Clerk webhook envelope. */
export interface ClerkWebhookPayload {
  type: string;
  object: "event";
  timestamp: number;
  data: Record<string, unknown>;
  [key: string]: unknown;
}

/** Changes to a built-in payload. */
export interface ClerkPayloadOverrides {
  /**
   * `data.id` of a user event; the payer of a billing event (a user id, or
   * an organization's `org_…`); `data.user_id` of an `email.created`.
   * Default: a new Clerk-looking user id (for an email: none, as for a
   * sign-up code).
   */
  readonly userId?: string;
  /** When the event happened. Default: now. */
  readonly at?: Date;
  /** Fields merged over `data` last. */
  readonly data?: Readonly<Record<string, unknown>>;
}

/** The three Svix headers of a signed delivery. */
export interface SvixHeaders {
  "svix-id": string;
  "svix-timestamp": string;
  "svix-signature": string;
}

/** Options for {@link signDelivery}. */
export interface SignOptions {
  /** The message id, which becomes the Inngest event id. Default: a new one. */
  readonly id?: string;
  /** When the delivery is signed. Default: now. */
  readonly at?: Date;
}

/** A new Clerk-looking user id, e.g. `user_2x4...`. */
export function newUserId(): string {
  return clerkId("user_");
}

/** A new Svix-looking message id, e.g. `msg_2x4...`. */
export function newMessageId(): string {
  return clerkId("msg_");
}

/** True when `value` names a Clerk event type with a built-in payload. */
export function isClerkEventType(value: string): value is ClerkEventType {
  return (CLERK_EVENT_TYPES as readonly string[]).includes(value);
}

const DAY_MS = 24 * 60 * 60 * 1000;
const INSTANCE_ID = "ins_2hV8a0oFqPBNqi4WzVcvFIcdXpI";

/**
 * A payload shaped like a real Clerk delivery of `type`. The user's address
 * is derived from the user id, so that every new user has its own.
 */
export function buildClerkPayload(
  type: ClerkEventType,
  overrides: ClerkPayloadOverrides = {},
): ClerkWebhookPayload {
  const now = (overrides.at ?? new Date()).getTime();
  const id = overrides.userId ?? newUserId();
  const data = isEmailEventType(type)
    ? verificationCodeEmail(overrides.userId ?? null, now)
    : isBillingEventType(type)
    ? billingData(type, { payerId: id, at: now })
    : type === "user.deleted"
    ? { deleted: true, id, object: "user" }
    : userData(id, type === "user.created" ? now : now - DAY_MS, now);
  return {
    data: { ...data, ...overrides.data },
    event_attributes: {
      http_request: {
        client_ip: "192.0.2.10",
        user_agent:
          "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
      },
    },
    instance_id: INSTANCE_ID,
    object: "event",
    timestamp: now,
    type,
  };
}

function userData(id: string, createdAt: number, updatedAt: number): Record<string, unknown> {
  const tag = id.slice(-8).toLowerCase();
  const primaryId = clerkId("idn_");
  const secondaryId = clerkId("idn_");
  const verification = (strategy: string) => ({
    attempts: null,
    expire_at: null,
    status: "verified",
    strategy,
  });
  return {
    backup_code_enabled: false,
    banned: false,
    birthday: "",
    create_organization_enabled: true,
    created_at: createdAt,
    delete_self_enabled: true,
    email_addresses: [
      {
        created_at: createdAt,
        email_address: `ada.${tag}@example.com`,
        id: primaryId,
        linked_to: [],
        object: "email_address",
        reserved: false,
        updated_at: createdAt,
        verification: verification("email_code"),
      },
      {
        created_at: createdAt + 1000,
        email_address: `ada.${tag}.old@example.com`,
        id: secondaryId,
        linked_to: [],
        object: "email_address",
        reserved: false,
        updated_at: createdAt + 1000,
        verification: verification("admin"),
      },
    ],
    external_accounts: [],
    external_id: null,
    first_name: "Ada",
    gender: "",
    has_image: false,
    id,
    image_url: "https://img.clerk.com/eyJ0eXBlIjoiZGVmYXVsdCJ9",
    last_active_at: updatedAt,
    last_name: "Lovelace",
    last_sign_in_at: null,
    legal_accepted_at: null,
    locked: false,
    lockout_expires_in_seconds: null,
    mfa_disabled_at: null,
    mfa_enabled_at: null,
    object: "user",
    passkeys: [],
    password_enabled: true,
    phone_numbers: [],
    primary_email_address_id: primaryId,
    primary_phone_number_id: null,
    primary_web3_wallet_id: null,
    private_metadata: {},
    profile_image_url: "https://www.gravatar.com/avatar?d=mp",
    public_metadata: {},
    saml_accounts: [],
    totp_enabled: false,
    two_factor_enabled: false,
    unsafe_metadata: {},
    updated_at: updatedAt,
    username: `ada_${tag}`,
    verification_attempts_remaining: 100,
    web3_wallets: [],
  };
}

/**
 * Signs `body` with `secret` (`whsec_...`) as Svix does and returns the
 * headers to send with it. The signature covers exactly `body`.
 */
export function signDelivery(body: string, secret: string, options: SignOptions = {}): SvixHeaders {
  const id = options.id ?? newMessageId();
  const at = options.at ?? new Date();
  let webhook: Webhook;
  try {
    webhook = new Webhook(secret);
  } catch {
    // svix's message would not help more than this, and must not echo the secret.
    throw new TypeError("Cannot sign webhook: the secret must be whsec_<base64>");
  }
  return {
    "svix-id": id,
    "svix-timestamp": String(Math.floor(at.getTime() / 1000)),
    "svix-signature": webhook.sign(id, at, body),
  };
}
