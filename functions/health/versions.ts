/**
 * The exact versions of the packages this app runs in production, read from
 * the import map so that there is one place to change them.
 */
import importMap from "../../import_map.json" with { type: "json" };

/**
 * Packages in the import map that only the tests and the local tools use.
 * They never run in a deployed function, so `/health` does not list them.
 */
export const DEVELOPMENT_ONLY_PACKAGES: readonly string[] = [
  "@inngest/test",
  "postgres",
  "supabase",
  "parse5",
  "@electric-sql/pglite",
  "@electric-sql/pglite-socket",
  "fast-check",
  "esbuild",
];

/** Package name to pinned version, for the details of `/health`. */
export const PACKAGE_VERSIONS: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(importMap.imports as Record<string, string>).flatMap(([name, specifier]) => {
    const match = /^npm:\/?(@?[^@]+)@([^/]+)\/?$/.exec(specifier);
    return match && match[1] === name && !DEVELOPMENT_ONLY_PACKAGES.includes(name)
      ? [[name, match[2]]]
      : [];
  }),
);
