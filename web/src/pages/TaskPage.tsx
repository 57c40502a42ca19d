// One task: every field editable in place, its status moves, its manuscript's figures and
// chapters, its drafts with their chart, and a new draft's upload.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, type ReactNode, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { ApiError, type Draft, type Task, type TaskStatus, api, etagOf, ok } from "../api/client";
import { createDraft } from "../api/upload";
import { formatDay, formatStamp, fromDateInput, relativeDue, toDateInput } from "../lib/dates";
import { formatBytes, problemWith } from "../lib/files";
import { isSettled, pollDelay } from "../lib/poll";
import { fill, formatNumber, pace, readingTime, summary } from "../lib/progress";
import { Confirm, ErrorText, Notice, ProgressBar, StatusBadge, WordsChart } from "../components/ui";
import { FilePicker } from "./NewTask";

type Patch = {
  title?: string;
  description?: string | null;
  due_date?: string | null;
  word_target?: number | null;
  status?: "pending" | "completed" | "cancelled";
};

export function TaskPage() {
  const { taskId = "" } = useParams();
  const client = useQueryClient();
  const key = ["task", taskId];
  const draftsKey = ["drafts", taskId];
  const path = { task_id: taskId };
  const drafts = useQuery({
    queryKey: draftsKey,
    queryFn: () => ok(api.GET("/api/v1/tasks/{task_id}/drafts", { params: { path } })),
  });
  // Polls while something is processing, backing off: 1 s, 1.5 s, 2.25 s … at most 15 s.
  const task = useQuery({
    queryKey: key,
    queryFn: () => ok(api.GET("/api/v1/tasks/{task_id}", { params: { path } })),
    refetchInterval: (query) => {
      const data = query.state.data;
      if (!data || isSettled(data, drafts.data?.drafts ?? [])) return false;
      return pollDelay(query.state.dataUpdateCount - 1);
    },
  });
  // The drafts follow the task: a new version of it means a draft moved on.
  const version = task.data?.version;
  const [seenVersion, setSeenVersion] = useState<number | undefined>(undefined);
  if (version !== undefined && version !== seenVersion) {
    setSeenVersion(version);
    if (seenVersion !== undefined) void client.invalidateQueries({ queryKey: draftsKey });
  }

  const [conflict, setConflict] = useState<string | null>(null);
  const edit = useMutation({
    mutationFn: (patch: Patch) => {
      const current = client.getQueryData<Task>(key)!;
      return ok(
        api.PATCH("/api/v1/tasks/{task_id}", {
          params: { path, header: { "If-Match": etagOf(current) } },
          body: patch,
          headers: { "content-type": "application/merge-patch+json" },
        }),
      );
    },
    onSuccess: (updated) => {
      setConflict(null);
      client.setQueryData(key, updated);
      void client.invalidateQueries({ queryKey: ["tasks"] });
    },
    onError: (error) => {
      if (error instanceof ApiError && error.status === 412) {
        setConflict("This task changed in another tab or device; here it is as it stands now. Make your change again.");
        void client.invalidateQueries({ queryKey: key });
      }
    },
  });
  const save = (patch: Patch) => edit.mutateAsync(patch).then(() => undefined);

  if (task.isPending) return <p role="status">Loading the task…</p>;
  if (task.isError) {
    return (
      <section className="narrow">
        <ErrorText error={task.error} />
        <p><Link to="/">Back to your board</Link></p>
      </section>
    );
  }
  const t = task.data;
  const list = drafts.data?.drafts ?? [];
  const processing = !isSettled(t, list);
  return (
    <article className="task">
      <p><Link to="/">← Your tasks</Link></p>
      <div className="heading">
        <EditableText label="Title" value={t.title} onSave={(title) => save({ title })} as="h1" />
        <StatusBadge status={t.status} />
      </div>
      {conflict ? <Notice tone="error" onDismiss={() => setConflict(null)}>{conflict}</Notice> : null}
      {edit.error && !(edit.error instanceof ApiError && edit.error.status === 412) ? <ErrorText error={edit.error} /> : null}
      {processing ? <Notice>Your manuscript is being processed; this page updates itself.</Notice> : null}
      {t.status === "cancelled" && t.error ? <Notice tone="error">Processing failed: {t.error}</Notice> : null}

      <StatusActions task={t} onMove={(status) => save({ status })} busy={edit.isPending} />

      <dl className="fields">
        <EditableText label="Description" value={t.description ?? ""} multiline onSave={(d) => save({ description: d.trim() || null })} />
        <EditableDate label="Due date" value={t.due_date ?? null} onSave={(due_date) => save({ due_date })} />
        <EditableNumber label="Word target" value={t.word_target ?? null} onSave={(word_target) => save({ word_target })} />
      </dl>

      <ProgressSection task={t} />
      <Figures task={t} />
      <Drafts task={t} drafts={list} error={drafts.error} />
      <DeleteTask task={t} />
    </article>
  );
}

function StatusActions({ task, onMove, busy }: { task: Task; onMove: (status: "pending" | "completed" | "cancelled") => void; busy: boolean }) {
  const moves: [string, "pending" | "completed" | "cancelled"][] = [];
  const s: TaskStatus = task.status;
  if (s === "pending") moves.push(["Mark completed", "completed"], ["Cancel", "cancelled"]);
  if (s === "in_progress") moves.push(["Cancel", "cancelled"]);
  if (s === "completed" || s === "cancelled") moves.push(["Reopen", "pending"]);
  return (
    <div className="actions" role="group" aria-label="Status">
      {moves.map(([label, status]) => (
        <button key={status} type="button" className={status === "completed" ? "primary" : ""} disabled={busy} onClick={() => onMove(status)}>{label}</button>
      ))}
    </div>
  );
}

/** A value shown as text, with an Edit button that turns it into a field. */
function Editable({ label, display, editor, as }: { label: string; display: ReactNode; editor: (done: () => void) => ReactNode; as?: "h1" | undefined }) {
  const [editing, setEditing] = useState(false);
  const button = <button type="button" className="link" onClick={() => setEditing(true)} aria-label={`Edit ${label.toLowerCase()}`}>Edit</button>;
  if (as) {
    // The title: a heading, not a member of the fields' list.
    if (editing) return <div className="editing grow">{editor(() => setEditing(false))}</div>;
    return <div className="editable title-row"><h1 dir="auto">{display}</h1>{button}</div>;
  }
  return (
    <div className="editable">
      <dt>{label}</dt>
      {editing ? <dd className="editing">{editor(() => setEditing(false))}</dd> : <dd className="value"><span dir="auto">{display}</span>{button}</dd>}
    </div>
  );
}

function EditForm({ label, children, onSubmit, onCancel, error }: { label: string; children: ReactNode; onSubmit: () => Promise<void>; onCancel: () => void; error: unknown }) {
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      await onSubmit();
      onCancel();
    } catch {
      // The error shows beside the field (and a 412 above the task).
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} aria-label={`Edit ${label.toLowerCase()}`} className="inline-edit">
      {children}
      <ErrorText error={error} />
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>Save</button>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

function EditableText({ label, value, onSave, multiline, as }: { label: string; value: string; onSave: (v: string) => Promise<void>; multiline?: boolean; as?: "h1" | undefined }) {
  const [draft, setDraft] = useState(value);
  const [error, setError] = useState<unknown>(null);
  return (
    <Editable
      label={label}
      as={as}
      display={value || <span className="muted">None</span>}
      editor={(done) => (
        <EditForm label={label} onCancel={() => { setError(null); setDraft(value); done(); }} error={error} onSubmit={() => onSave(draft).catch((e) => { setError(e); throw e; })}>
          <label>
            {label}
            {multiline ? (
              <textarea dir="auto" value={draft} rows={4} onChange={(e) => setDraft(e.target.value)} autoFocus />
            ) : (
              <input dir="auto" value={draft} onChange={(e) => setDraft(e.target.value)} autoFocus />
            )}
          </label>
        </EditForm>
      )}
    />
  );
}

function EditableDate({ label, value, onSave }: { label: string; value: string | null; onSave: (v: string | null) => Promise<void> }) {
  const [draft, setDraft] = useState(toDateInput(value));
  const [error, setError] = useState<unknown>(null);
  const due = value ? relativeDue(new Date(value), new Date()) : null;
  return (
    <Editable
      label={label}
      display={value ? <>{formatDay(value)} <span className={due?.overdue ? "due overdue" : "due"}>({due?.text})</span></> : <span className="muted">None</span>}
      editor={(done) => (
        <EditForm label={label} onCancel={() => { setError(null); done(); }} error={error} onSubmit={() => onSave(fromDateInput(draft)).catch((e) => { setError(e); throw e; })}>
          <label>
            {label}
            <input type="date" value={draft} onChange={(e) => setDraft(e.target.value)} autoFocus />
          </label>
          <small>Empty clears it.</small>
        </EditForm>
      )}
    />
  );
}

function EditableNumber({ label, value, onSave }: { label: string; value: number | null; onSave: (v: number | null) => Promise<void> }) {
  const [draft, setDraft] = useState(value == null ? "" : String(value));
  const [error, setError] = useState<unknown>(null);
  return (
    <Editable
      label={label}
      display={value == null ? <span className="muted">None</span> : `${formatNumber(value)} words`}
      editor={(done) => (
        <EditForm label={label} onCancel={() => { setError(null); done(); }} error={error} onSubmit={() => onSave(draft.trim() ? Number(draft) : null).catch((e) => { setError(e); throw e; })}>
          <label>
            {label}
            <input type="number" min={1} max={10000000} value={draft} onChange={(e) => setDraft(e.target.value)} autoFocus />
          </label>
          <small>Empty clears it.</small>
        </EditForm>
      )}
    />
  );
}

function ProgressSection({ task }: { task: Task }) {
  const p = task.progress;
  const paceText = pace(p);
  return (
    <section aria-labelledby="progress-heading">
      <h2 id="progress-heading">Progress</h2>
      <p>{summary(p)}</p>
      {p.target ? <ProgressBar value={fill(p)} label="Words toward the target" /> : <p className="muted">Set a word target to see how far along you are.</p>}
      {paceText ? <p>{paceText}</p> : null}
    </section>
  );
}

function Figures({ task }: { task: Task }) {
  if (task.word_count == null && !task.file_name) return null;
  const rows: [string, string | null][] = [
    ["Words", task.word_count != null ? formatNumber(task.word_count) : null],
    ["Reading time", readingTime(task.reading_minutes)],
    ["Characters", task.character_count != null ? formatNumber(task.character_count) : null],
    ["Sentences", task.sentence_count != null ? formatNumber(task.sentence_count) : null],
    ["Paragraphs", task.paragraph_count != null ? formatNumber(task.paragraph_count) : null],
    ["Words per sentence", task.average_sentence_words != null ? task.average_sentence_words.toFixed(1) : null],
  ];
  const chapters = task.chapters ?? [];
  return (
    <section aria-labelledby="manuscript-heading">
      <h2 id="manuscript-heading">Manuscript{task.shown_draft ? `, draft ${task.shown_draft}` : ""}</h2>
      {task.file_name ? <p dir="auto" className="muted">{task.file_name}{task.file_size != null ? ` · ${formatBytes(task.file_size)}` : ""}</p> : null}
      <dl className="figures">
        {rows.filter(([, v]) => v != null).map(([k, v]) => (
          <div key={k}><dt>{k}</dt><dd>{v}</dd></div>
        ))}
      </dl>
      {chapters.length > 0 ? (
        <div className="scroll"><table>
          <caption>Chapters</caption>
          <thead><tr><th scope="col">#</th><th scope="col">Chapter</th><th scope="col" className="num">Words</th><th scope="col" className="num">Reading time</th></tr></thead>
          <tbody>
            {chapters.map((c, i) => (
              <tr key={i}><td>{i + 1}</td><td dir="auto">{c.title ?? <span className="muted">Before the first heading</span>}</td><td className="num">{formatNumber(c.words)}</td><td className="num">{readingTime(c.reading_minutes)}</td></tr>
            ))}
          </tbody>
        </table></div>
      ) : null}
    </section>
  );
}

const DRAFT_STATES: Record<Draft["state"], string> = { processing: "Processing", processed: "Processed", failed: "Failed" };

function Drafts({ task, drafts, error }: { task: Task; drafts: Draft[]; error: unknown }) {
  const client = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [sent, setSent] = useState<number | null>(null);
  const [uploadError, setUploadError] = useState<unknown>(null);
  const [downloadError, setDownloadError] = useState<unknown>(null);
  const [pickerKey, setPickerKey] = useState(0);
  const upload = async (event: FormEvent) => {
    event.preventDefault();
    if (!file || problem) return;
    setUploadError(null);
    setSent(0);
    try {
      await createDraft(task.id, file, (loaded, total) => setSent((loaded / total) * 100));
      setFile(null);
      setPickerKey((k) => k + 1);
      await client.invalidateQueries({ queryKey: ["drafts", task.id] });
      await client.invalidateQueries({ queryKey: ["task", task.id] });
    } catch (e) {
      setUploadError(e);
    } finally {
      setSent(null);
    }
  };
  const download = async (number: number) => {
    setDownloadError(null);
    try {
      const link = await ok(api.GET("/api/v1/tasks/{task_id}/drafts/{number}/file", { params: { path: { task_id: task.id, number } } }));
      location.assign(link.url);
    } catch (e) {
      setDownloadError(e);
    }
  };
  const points = drafts.filter((d) => d.state === "processed" && d.words != null).map((d) => ({ draft: d.number, words: d.words! }));
  return (
    <section aria-labelledby="drafts-heading">
      <h2 id="drafts-heading">Drafts</h2>
      <ErrorText error={error} />
      {points.length > 0 ? <WordsChart points={points} target={task.word_target} /> : null}
      {drafts.length > 0 ? (
        <div className="scroll">
          <table>
            <caption className="visually-hidden">Drafts, oldest first</caption>
            <thead><tr><th scope="col">#</th><th scope="col">File</th><th scope="col">State</th><th scope="col" className="num">Words</th><th scope="col">Uploaded</th><th scope="col"><span className="visually-hidden">Download</span></th></tr></thead>
            <tbody>
              {drafts.map((d) => (
                <tr key={d.number}>
                  <td>{d.number}</td>
                  <td dir="auto">{d.file_name ?? "—"} <small className="muted">{formatBytes(d.file_size)}</small></td>
                  <td>{DRAFT_STATES[d.state]}{d.error ? <small className="error"> {d.error}</small> : null}</td>
                  <td className="num">{d.words != null ? formatNumber(d.words) : "—"}{d.words_change ? <small className="muted"> ({d.words_change > 0 ? "+" : ""}{formatNumber(d.words_change)})</small> : null}</td>
                  <td>{formatStamp(d.created_at)}</td>
                  <td><button type="button" className="link" onClick={() => download(d.number)} aria-label={`Download draft ${d.number}`}>Download</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p className="muted">No manuscript yet: upload one below.</p>
      )}
      <ErrorText error={downloadError} />
      <form onSubmit={upload} className="new-draft">
        <FilePicker key={pickerKey} label="Upload a new draft" file={file} problem={problem} onChoose={(f) => { setFile(f); setProblem(f ? problemWith(f) : null); }} />
        {sent != null ? <><ProgressBar value={sent} label="Upload progress" /><small aria-live="polite">Uploading: {Math.round(sent)}%</small></> : null}
        <ErrorText error={uploadError} />
        <button type="submit" disabled={!file || Boolean(problem) || sent != null}>{sent != null ? "Uploading…" : "Upload draft"}</button>
      </form>
    </section>
  );
}

function DeleteTask({ task }: { task: Task }) {
  const [open, setOpen] = useState(false);
  const navigate = useNavigate();
  const client = useQueryClient();
  const remove = useMutation({
    mutationFn: () => ok(api.DELETE("/api/v1/tasks/{task_id}", { params: { path: { task_id: task.id } } })),
    onSuccess: async () => {
      setOpen(false);
      client.removeQueries({ queryKey: ["task", task.id] });
      await client.invalidateQueries({ queryKey: ["tasks"] });
      navigate("/?deleted=1");
    },
  });
  return (
    <section aria-labelledby="delete-heading" className="danger-zone">
      <h2 id="delete-heading">Delete</h2>
      <p>Deleting moves the task to the trash, where you can restore it for 30 days.</p>
      <button type="button" className="danger" onClick={() => setOpen(true)}>Delete task</button>
      <Confirm open={open} title="Delete this task?" confirm="Delete" busy={remove.isPending} onCancel={() => setOpen(false)} onConfirm={() => remove.mutate()}>
        <p dir="auto">“{task.title}” goes to the trash with its drafts.</p>
        <ErrorText error={remove.error} />
      </Confirm>
    </section>
  );
}
