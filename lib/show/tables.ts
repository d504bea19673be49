/**
 * Tables for notebooks and terminals, built on arquero.
 *
 * @module
 */
import * as aq from "arquero";

/** An arquero table, or plain row objects that become one. */
// deno-lint-ignore no-explicit-any
export type TableLike = aq.ColumnTable | Record<string, any>[];

function _table(t: TableLike): aq.ColumnTable {
  return Array.isArray(t) ? aq.from(t) : t;
}

/**
 * Wraps a table so that a notebook cell displays it as HTML (and as Markdown in plain text).
 * Numbers are shown with `digits` decimals.
 */
export function showTable(t: TableLike, digits = 2): aq.ColumnTable {
  const table = _table(t);
  const fmt = (v: unknown) =>
    typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(digits)) : String(v ?? "");
  const formats = Object.fromEntries(table.columnNames().map((c) => [c, fmt]));
  Object.defineProperty(table, Symbol.for("Jupyter.display"), {
    value: () => ({
      "text/html": table.toHTML({ format: formats, limit: Infinity }),
      "text/plain": table.toMarkdown({ format: formats, limit: Infinity }),
    }),
    enumerable: false,
    configurable: true,
  });
  return table;
}

/** A Markdown rendering of a table, for terminals and logs. */
export function tableMarkdown(t: TableLike, digits = 2): string {
  const table = _table(t);
  const fmt = (v: unknown) =>
    typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(digits)) : String(v ?? "");
  return table.toMarkdown({
    format: Object.fromEntries(table.columnNames().map((c) => [c, fmt])),
    limit: Infinity,
  });
}
