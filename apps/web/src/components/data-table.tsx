import type { HTMLAttributes, ReactNode } from 'react';
import { ErrorNotice } from './notice';

export interface Column<T> {
  header: ReactNode;
  cell: (row: T) => ReactNode;
  className?: string;
  /** The cell's tooltip (a full timestamp behind a relative one, say). */
  title?: (row: T) => string | undefined;
}

/**
 * The app's one table: columns, a row header (the first column), row actions, and its states —
 * loading, a load error (above it, the rows it had stay), and empty. For the admin and
 * credentials tables (docs: DEVELOPERS.md, "Adding a page").
 */
export function DataTable<T>({
  rows,
  columns,
  rowKey,
  rowProps,
  actions,
  loading = false,
  error,
  empty,
  className,
  label,
  rowHeader = true,
}: {
  rows: readonly T[] | undefined;
  columns: readonly Column<T>[];
  rowKey: (row: T) => string;
  /** Extra attributes of a row (`data-…` ids for tests and styles). */
  rowProps?: (row: T) => HTMLAttributes<HTMLTableRowElement> & Record<`data-${string}`, string>;
  /** The row's buttons, in a last column whose header only screen readers hear. */
  actions?: (row: T) => ReactNode;
  loading?: boolean;
  error?: unknown;
  /** What an empty table says. */
  empty: ReactNode;
  className?: string;
  /** The table's accessible name, where the page has several. */
  label?: string;
  /** Whether the first column heads its row (a name); not for a log whose first column is a time. */
  rowHeader?: boolean;
}) {
  const span = columns.length + (actions ? 1 : 0);
  return (
    <>
      <ErrorNotice error={error} />
      <div className="table-wrap">
        <table className={className ? `table ${className}` : 'table'} aria-label={label}>
          <thead>
            <tr>
              {columns.map((c, i) => (
                <th key={i} scope="col">
                  {c.header}
                </th>
              ))}
              {actions && (
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {rows?.map((row) => (
              <tr key={rowKey(row)} {...rowProps?.(row)}>
                {columns.map((c, i) => {
                  const props = { className: c.className, title: c.title?.(row) };
                  return i === 0 && rowHeader ? (
                    <th key={i} scope="row" {...props}>
                      {c.cell(row)}
                    </th>
                  ) : (
                    <td key={i} {...props}>
                      {c.cell(row)}
                    </td>
                  );
                })}
                {actions && <td className="row-actions">{actions(row)}</td>}
              </tr>
            ))}
            {!rows && loading && (
              <tr>
                <td colSpan={span} className="muted">
                  Loading…
                </td>
              </tr>
            )}
            {rows && rows.length === 0 && (
              <tr>
                <td colSpan={span} className="muted">
                  {empty}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </>
  );
}
