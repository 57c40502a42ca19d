import { type ReactNode, useEffect, useId, useRef } from "react";
import { ApiError, type TaskStatus } from "../api/client";
import { formatNumber } from "../lib/progress";

export function Notice({ children, tone = "info", onDismiss }: { children: ReactNode; tone?: "info" | "error" | "success"; onDismiss?: () => void }) {
  return (
    <div className={`notice ${tone}`} role={tone === "error" ? "alert" : "status"}>
      <span>{children}</span>
      {onDismiss ? (
        <button type="button" className="link" onClick={onDismiss} aria-label="Dismiss">×</button>
      ) : null}
    </div>
  );
}

/** An error's readable `detail`, next to what caused it. */
export function ErrorText({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  return <p className="error" role="alert">{message}</p>;
}

/** The message of a 422 for one field, if the API named it. */
export function fieldError(error: unknown, name: string): string | undefined {
  return error instanceof ApiError ? error.fields.get(name) : undefined;
}

interface FieldProps {
  label: string;
  name: string;
  type?: string;
  value: string;
  onChange: (value: string) => void;
  error?: string | undefined;
  hint?: string;
  required?: boolean;
  autoComplete?: string;
  multiline?: boolean;
  min?: number;
  max?: number;
  maxLength?: number;
  minLength?: number;
}

export function Field({ label, name, type = "text", value, onChange, error, hint, multiline, ...rest }: FieldProps) {
  const id = useId();
  const described = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
  const common = {
    id,
    name,
    value,
    dir: "auto" as const,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": described,
    ...rest,
  };
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {multiline ? (
        <textarea {...common} rows={4} onChange={(e) => onChange(e.target.value)} />
      ) : (
        <input {...common} type={type} onChange={(e) => onChange(e.target.value)} />
      )}
      {hint ? <small id={`${id}-hint`}>{hint}</small> : null}
      {error ? <small id={`${id}-error`} className="error">{error}</small> : null}
    </div>
  );
}

const STATUS_LABELS: Record<TaskStatus, string> = {
  pending: "Pending",
  in_progress: "Processing",
  completed: "Completed",
  cancelled: "Cancelled",
};

export function StatusBadge({ status }: { status: TaskStatus }) {
  return <span className={`badge ${status}`}>{STATUS_LABELS[status]}</span>;
}

export function ProgressBar({ value, label }: { value: number; label: string }) {
  return (
    <div className="bar" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(value)}>
      <div style={{ width: `${value}%` }} />
    </div>
  );
}

/** Words across drafts: one bar per processed draft, the target as a line. */
export function WordsChart({ points, target }: { points: { draft: number; words: number }[]; target?: number | null }) {
  if (points.length === 0) return null;
  const width = 560;
  const height = 180;
  const pad = { left: 56, right: 12, top: 12, bottom: 28 };
  const top = Math.max(target ?? 0, ...points.map((p) => p.words), 1);
  const x = (i: number) => pad.left + ((width - pad.left - pad.right) / points.length) * i;
  const band = (width - pad.left - pad.right) / points.length;
  const y = (words: number) => pad.top + (height - pad.top - pad.bottom) * (1 - words / top);
  const summary = points.map((p) => `draft ${p.draft}: ${formatNumber(p.words)} words`).join(", ");
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`Words across drafts: ${summary}`}>
        <line x1={pad.left} x2={width - pad.right} y1={y(0)} y2={y(0)} className="axis" />
        <text x={pad.left - 6} y={y(top) + 4} textAnchor="end" className="tick">{formatNumber(top)}</text>
        <text x={pad.left - 6} y={y(0) + 4} textAnchor="end" className="tick">0</text>
        {points.map((p, i) => (
          <g key={p.draft}>
            <rect x={x(i) + band * 0.2} width={band * 0.6} y={y(p.words)} height={Math.max(0, y(0) - y(p.words))} className="column" />
            <text x={x(i) + band / 2} y={height - 8} textAnchor="middle" className="tick">#{p.draft}</text>
          </g>
        ))}
        {target ? <line x1={pad.left} x2={width - pad.right} y1={y(target)} y2={y(target)} className="target" /> : null}
      </svg>
      <figcaption>Words in each processed draft{target ? "; the line is the target" : ""}.</figcaption>
    </figure>
  );
}

/** A modal confirmation (a real `<dialog>`: focus is trapped and Escape cancels). */
export function Confirm({ open, title, children, confirm, onConfirm, onCancel, busy }: { open: boolean; title: string; children: ReactNode; confirm: string; onConfirm: () => void; onCancel: () => void; busy?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  const id = useId();
  return (
    <dialog ref={ref} aria-labelledby={id} onCancel={onCancel} onClose={onCancel}>
      <h2 id={id}>{title}</h2>
      {children}
      <div className="actions">
        <button type="button" onClick={onCancel}>Keep it</button>
        <button type="button" className="danger" onClick={onConfirm} disabled={busy}>{confirm}</button>
      </div>
    </dialog>
  );
}
