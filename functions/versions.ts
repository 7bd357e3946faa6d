/**
 * The exact versions of the packages this app runs, read from the import map
 * so that there is one place to change them.
 */
import importMap from "../import_map.json" with { type: "json" };

/** Package name to pinned version, for `/health`. */
export const PACKAGE_VERSIONS: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(importMap.imports as Record<string, string>).flatMap(([name, specifier]) => {
    const match = /^npm:\/?(@?[^@]+)@([^/]+)\/?$/.exec(specifier);
    return match && match[1] === name ? [[name, match[2]]] : [];
  }),
);
