// The board: the writer's tasks, filtered, searched, sorted and paged; the trash behind a switch.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { type Task, type TaskStatus, api, ok } from "../api/client";
import type { operations } from "../api/schema";
import { relativeDue, formatStamp } from "../lib/dates";
import { fill, summary } from "../lib/progress";
import { ErrorText, Notice, ProgressBar, StatusBadge } from "../components/ui";
import { Pager, useCursors } from "../components/pager";

const PAGE = 20;
const STATUSES: TaskStatus[] = ["pending", "in_progress", "completed", "cancelled"];

type ListQuery = NonNullable<operations["list_tasks"]["parameters"]["query"]>;

/** The board's query: main.tsx starts the first page's at once, alongside `GET /auth/me`. */
export const boardQuery = (query: ListQuery) => ({
  queryKey: ["tasks", query],
  queryFn: () => ok(api.GET("/api/v1/tasks", { params: { query } })),
});

/** What the board asks for with no filter: its first page. */
export const FIRST_PAGE: ListQuery = { limit: PAGE, sort: "created_at" };

export function Board() {
  const [params, setParams] = useSearchParams();
  const status = params.get("status") ?? "";
  const sort = params.get("sort") === "due_date" ? "due_date" : "created_at";
  const trashed = params.get("view") === "trash";
  const q = params.get("q") ?? "";
  const [search, setSearch] = useState(q);
  const cursors = useCursors();
  const after = cursors.after;
  const update = (changes: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) (v ? next.set(k, v) : next.delete(k));
    setParams(next, { replace: true });
    cursors.reset();
  };
  // Searching as the writer types, a moment after the last key.
  useEffect(() => {
    if (search === q) return;
    const timer = setTimeout(() => update({ q: search.trim() }), 300);
    return () => clearTimeout(timer);
  });

  const query: ListQuery = {
    limit: PAGE,
    sort,
    ...(status && !trashed ? { status_filter: status as TaskStatus } : {}),
    ...(q ? { q } : {}),
    ...(trashed ? { trashed: true } : {}),
    ...(after ? { after } : {}),
  };
  const tasks = useQuery({
    ...boardQuery(query),
    placeholderData: keepPreviousData,
    // A board with manuscripts being processed keeps itself current.
    refetchInterval: (result) => (result.state.data?.tasks.some((t) => t.status === "in_progress") ? 3000 : false),
  });

  const ids = { status: useId(), sort: useId(), search: useId() };
  const page = tasks.data;
  return (
    <section>
      <div className="heading">
        <h1>{trashed ? "Trash" : "Your tasks"}</h1>
        <Link to="/new" className="button primary">New task</Link>
      </div>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor={ids.search}>Search titles</label>
          <input id={ids.search} type="search" dir="auto" value={search} onChange={(e) => setSearch(e.target.value)} />
        </div>
        {!trashed ? (
          <div className="field">
            <label htmlFor={ids.status}>Status</label>
            <select id={ids.status} value={status} onChange={(e) => update({ status: e.target.value })}>
              <option value="">Any</option>
              {STATUSES.map((s) => <option key={s} value={s}>{s === "in_progress" ? "Processing" : s[0]!.toUpperCase() + s.slice(1)}</option>)}
            </select>
          </div>
        ) : null}
        <div className="field">
          <label htmlFor={ids.sort}>Order</label>
          <select id={ids.sort} value={sort} onChange={(e) => update({ sort: e.target.value === "due_date" ? "due_date" : "" })}>
            <option value="created_at">Newest first</option>
            <option value="due_date">Due soonest</option>
          </select>
        </div>
        <button type="button" className="link" onClick={() => update({ view: trashed ? "" : "trash", status: "" })}>
          {trashed ? "Back to your tasks" : "Show the trash"}
        </button>
      </form>

      {params.get("deleted") ? (
        <Notice tone="success" onDismiss={() => update({ deleted: "" })}>The task is in the trash, where you can restore it for 30 days.</Notice>
      ) : null}
      <ErrorText error={tasks.error} />
      {tasks.isPending ? <p role="status">Loading your tasks…</p> : null}
      {page && page.tasks.length === 0 ? <Empty filtered={Boolean(q || status)} trashed={trashed} /> : null}
      {page && page.tasks.length > 0 ? (
        <>
          <p className="muted" aria-live="polite">{page.total === 1 ? "1 task" : `${page.total} tasks`}</p>
          <ul className="tasks">
            {page.tasks.map((task) => (trashed ? <TrashedCard key={task.id} task={task} /> : <Card key={task.id} task={task} />))}
          </ul>
          <Pager cursors={cursors} next={page.next} label="Pages of tasks" />
        </>
      ) : null}
    </section>
  );
}

function Empty({ filtered, trashed }: { filtered: boolean; trashed: boolean }) {
  if (trashed) return <p className="empty">The trash is empty. Deleted tasks stay here for 30 days.</p>;
  if (filtered) return <p className="empty">No task matches. Clear the search or the status to see them all.</p>;
  return (
    <div className="empty">
      <h2>Start with your first task</h2>
      <p>A task is a piece of writing with a due date and, if you like, a word target. Give it your manuscript (.docx, .txt or .md) and Writers counts its words and chapters, draft after draft.</p>
      <Link to="/new" className="button primary">Create a task</Link>
    </div>
  );
}

function Due({ task }: { task: Task }) {
  if (!task.due_date) return null;
  const finished = task.status === "completed" || task.status === "cancelled";
  const due = relativeDue(new Date(task.due_date), new Date());
  return (
    <span className={due.overdue && !finished ? "due overdue" : "due"} title={formatStamp(task.due_date)}>
      {due.overdue && !finished ? "Overdue: " : ""}{due.text}
    </span>
  );
}

function Card({ task }: { task: Task }) {
  return (
    <li className="card">
      <div className="card-head">
        <Link to={`/tasks/${task.id}`} dir="auto" className="title">{task.title}</Link>
        <StatusBadge status={task.status} />
      </div>
      <div className="card-meta">
        <Due task={task} />
        {task.file_name ? <span dir="auto" className="muted">{task.file_name}</span> : <span className="muted">No manuscript yet</span>}
      </div>
      {task.progress.target ? (
        <>
          <ProgressBar value={fill(task.progress)} label={`Progress of ${task.title}`} />
          <small>{summary(task.progress)}</small>
        </>
      ) : task.word_count != null ? <small>{summary(task.progress)}</small> : null}
    </li>
  );
}

function TrashedCard({ task }: { task: Task }) {
  const client = useQueryClient();
  const restore = useMutation({
    mutationFn: () => ok(api.POST("/api/v1/tasks/{task_id}/restore", { params: { path: { task_id: task.id } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["tasks"] }),
  });
  return (
    <li className="card">
      <div className="card-head">
        <span dir="auto" className="title">{task.title}</span>
        <button type="button" onClick={() => restore.mutate()} disabled={restore.isPending}>Restore</button>
      </div>
      {task.trashed_at ? <small className="muted">Deleted {formatStamp(task.trashed_at)}</small> : null}
      <ErrorText error={restore.error} />
      {restore.isSuccess ? <Notice tone="success">Restored.</Notice> : null}
    </li>
  );
}
