// A new task: its fields and, if the writer has one, the manuscript, with the upload's progress.
import { type DragEvent, type FormEvent, useId, useRef, useState } from "react";
import { useNavigate } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { ApiError } from "../api/client";
import { createTask } from "../api/upload";
import { fromDateInput } from "../lib/dates";
import { ACCEPT, formatBytes, problemWith } from "../lib/files";
import { ErrorText, Field, ProgressBar, fieldError } from "../components/ui";

export function NewTask() {
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [due, setDue] = useState("");
  const [target, setTarget] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [fileProblem, setFileProblem] = useState<string | null>(null);
  const [sent, setSent] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const navigate = useNavigate();
  const client = useQueryClient();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (fileProblem) return;
    const words = target.trim() ? Number(target) : null;
    if (words !== null && !(Number.isInteger(words) && words >= 1 && words <= 10_000_000)) {
      setError(new ApiError(422, "The word target is a whole number of words, from 1 to 10,000,000."));
      return;
    }
    setError(null);
    setSent(0);
    try {
      const task = await createTask(
        { title, description: description.trim() || null, due_date: fromDateInput(due), word_target: words },
        file,
        (loaded, total) => setSent((loaded / total) * 100),
      );
      await client.invalidateQueries({ queryKey: ["tasks"] });
      await client.invalidateQueries({ queryKey: ["me"] });
      navigate(`/tasks/${task.id}`);
    } catch (e) {
      setError(e);
      setSent(null);
    }
  };

  return (
    <section className="narrow">
      <h1>New task</h1>
      <form onSubmit={submit} noValidate>
        <Field label="Title" name="title" value={title} onChange={setTitle} error={fieldError(error, "title")} maxLength={255} required />
        <Field label="Description" name="description" value={description} onChange={setDescription} error={fieldError(error, "description")} multiline maxLength={10000} />
        <div className="row">
          <Field label="Due date" name="due_date" type="date" value={due} onChange={setDue} error={fieldError(error, "due_date")} />
          <Field label="Word target" name="word_target" type="number" min={1} max={10000000} value={target} onChange={setTarget} error={fieldError(error, "word_target")} />
        </div>
        <FilePicker label="Manuscript (optional)" file={file} problem={fileProblem} onChoose={(f) => { setFile(f); setFileProblem(f ? problemWith(f) : null); }} />
        {sent != null ? (
          <div className="uploading">
            <ProgressBar value={sent} label="Upload progress" />
            <small aria-live="polite">{file ? `Uploading ${file.name}: ${Math.round(sent)}%` : "Saving…"}</small>
          </div>
        ) : null}
        <ErrorText error={error} />
        <button type="submit" className="primary" disabled={sent != null || Boolean(fileProblem)}>
          {sent != null ? "Creating…" : "Create task"}
        </button>
      </form>
    </section>
  );
}

/** A drop zone that is also a labelled file input (keyboard and screen readers use the input). */
export function FilePicker({ label, file, problem, onChoose }: { label: string; file: File | null; problem: string | null; onChoose: (file: File | null) => void }) {
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const drop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    const dropped = event.dataTransfer.files[0];
    if (dropped) onChoose(dropped);
  };
  return (
    <div className={`drop ${over ? "over" : ""}`} onDragOver={(e) => { e.preventDefault(); setOver(true); }} onDragLeave={() => setOver(false)} onDrop={drop}>
      <label htmlFor={id}>{label}</label>
      <p className="muted">Drop a .docx, .txt or .md file here, or choose one (up to 100 MiB).</p>
      <input ref={input} id={id} type="file" accept={ACCEPT} aria-describedby={problem ? `${id}-error` : undefined} onChange={(e) => onChoose(e.target.files?.[0] ?? null)} />
      {file && !problem ? <p dir="auto">{file.name} · {formatBytes(file.size)}</p> : null}
      {problem ? <p id={`${id}-error`} className="error" role="alert">{problem}</p> : null}
    </div>
  );
}
