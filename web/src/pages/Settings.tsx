// Settings: the profile, the password, the signed-in devices, and leaving.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate } from "react-router";
import { type User, api, ok } from "../api/client";
import { ME, resetSession, useMe } from "../session";
import { formatBytes } from "../lib/files";
import { formatStamp } from "../lib/dates";
import { Confirm, ErrorText, Field, Notice, ProgressBar, fieldError } from "../components/ui";
import { useSubmit } from "./Auth";

export default function Settings() {
  const { data } = useMe();
  if (!data) return null;
  const { user, usage } = data;
  return (
    <section className="narrow settings">
      <h1>Settings</h1>
      <p className="muted">
        {usage.tasks === 1 ? "1 task" : `${usage.tasks} tasks`}, {formatBytes(usage.bytes)} of {formatBytes(usage.quota_bytes)} stored.
      </p>
      <ProgressBar value={usage.quota_bytes ? Math.min(100, (usage.bytes / usage.quota_bytes) * 100) : 0} label="Storage used" />
      <Profile key={user.updated_at} user={user} />
      <Password />
      <Sessions />
      <DeleteAccount />
    </section>
  );
}

function zones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  return intl.supportedValuesOf?.("timeZone") ?? [];
}

function Profile({ user }: { user: User }) {
  const [form, setForm] = useState({ full_name: user.full_name ?? "", username: user.username, email: user.email, time_zone: user.time_zone, current_password: "" });
  const set = (name: keyof typeof form) => (value: string) => setForm((f) => ({ ...f, [name]: value }));
  const client = useQueryClient();
  const [saved, setSaved] = useState(false);
  const changesEmail = form.email.trim() !== user.email;
  const { busy, error, submit } = useSubmit(
    () => {
      setSaved(false);
      const patch: Record<string, string | null> = {};
      if ((form.full_name.trim() || null) !== (user.full_name ?? null)) patch.full_name = form.full_name.trim() || null;
      if (form.username !== user.username) patch.username = form.username;
      if (form.time_zone !== user.time_zone) patch.time_zone = form.time_zone;
      if (changesEmail) {
        patch.email = form.email.trim();
        patch.current_password = form.current_password;
      }
      return ok(api.PATCH("/auth/me", { body: patch, headers: { "content-type": "application/merge-patch+json" } }));
    },
    async () => {
      setSaved(true);
      await client.invalidateQueries({ queryKey: ME });
    },
  );
  const all = zones();
  return (
    <form onSubmit={submit} noValidate aria-labelledby="profile-heading">
      <h2 id="profile-heading">Profile</h2>
      <Field label="Full name" name="full_name" autoComplete="name" value={form.full_name} onChange={set("full_name")} error={fieldError(error, "full_name")} />
      <Field label="Username" name="username" autoComplete="username" value={form.username} onChange={set("username")} error={fieldError(error, "username")} />
      <div className="field">
        <label htmlFor="time_zone">Time zone</label>
        <select id="time_zone" value={form.time_zone} onChange={(e) => set("time_zone")(e.target.value)}>
          {(all.includes(form.time_zone) ? all : [form.time_zone, ...all]).map((z) => <option key={z} value={z}>{z}</option>)}
        </select>
        <small>Due dates and words a day are counted in it.</small>
      </div>
      <Field label="Email" name="email" type="email" autoComplete="email" value={form.email} onChange={set("email")} error={fieldError(error, "email")} />
      {changesEmail ? <Field label="Current password (to change the email)" name="current_password" type="password" autoComplete="current-password" value={form.current_password} onChange={set("current_password")} error={fieldError(error, "current_password")} /> : null}
      <ErrorText error={error} />
      {saved ? <Notice tone="success">Profile saved.</Notice> : null}
      <button type="submit" className="primary" disabled={busy}>Save profile</button>
    </form>
  );
}

function Password() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [done, setDone] = useState(false);
  const client = useQueryClient();
  const { busy, error, submit } = useSubmit(
    () => {
      setDone(false);
      return ok(api.POST("/auth/password", { body: { current_password: current, new_password: next } }));
    },
    async () => {
      setCurrent("");
      setNext("");
      setDone(true);
      await client.invalidateQueries({ queryKey: ["sessions"] });
    },
  );
  return (
    <form onSubmit={submit} noValidate aria-labelledby="password-heading">
      <h2 id="password-heading">Password</h2>
      <Field label="Current password" name="current_password" type="password" autoComplete="current-password" value={current} onChange={setCurrent} error={fieldError(error, "current_password")} />
      <Field label="New password" name="new_password" type="password" autoComplete="new-password" value={next} onChange={setNext} error={fieldError(error, "new_password")} hint="At least 8 characters. Your other devices are signed out." />
      <ErrorText error={error} />
      {done ? <Notice tone="success">Password changed; your other devices are signed out.</Notice> : null}
      <button type="submit" className="primary" disabled={busy}>Change password</button>
    </form>
  );
}

function Sessions() {
  const client = useQueryClient();
  const sessions = useQuery({ queryKey: ["sessions"], queryFn: () => ok(api.GET("/auth/sessions")) });
  const refresh = () => client.invalidateQueries({ queryKey: ["sessions"] });
  const end = useMutation({
    mutationFn: (id: string) => ok(api.DELETE("/auth/sessions/{session_id}", { params: { path: { session_id: id } } })),
    onSuccess: refresh,
  });
  const others = useMutation({ mutationFn: () => ok(api.DELETE("/auth/sessions")), onSuccess: refresh });
  const list = sessions.data?.sessions ?? [];
  return (
    <section aria-labelledby="sessions-heading">
      <h2 id="sessions-heading">Signed-in devices</h2>
      <ErrorText error={sessions.error ?? end.error ?? others.error} />
      <ul className="sessions">
        {list.map((s) => (
          <li key={s.id}>
            <div>
              <strong>{s.user_agent ?? "Unknown device"}</strong>{s.current ? <span className="badge current">This device</span> : null}
              <br />
              <small className="muted">Signed in {formatStamp(s.created_at)} · last active {formatStamp(s.last_used_at)}</small>
            </div>
            {s.current ? null : (
              <button type="button" onClick={() => end.mutate(s.id)} disabled={end.isPending} aria-label={`Sign out ${s.user_agent ?? "this device"}, signed in ${formatStamp(s.created_at)}`}>Sign out</button>
            )}
          </li>
        ))}
      </ul>
      {list.length > 1 ? <button type="button" onClick={() => others.mutate()} disabled={others.isPending}>Sign out every other device</button> : null}
    </section>
  );
}

function DeleteAccount() {
  const [password, setPassword] = useState("");
  const [open, setOpen] = useState(false);
  const client = useQueryClient();
  const navigate = useNavigate();
  const remove = useMutation({
    mutationFn: () => ok(api.DELETE("/auth/me", { body: { password } })),
    onSuccess: async () => {
      setOpen(false);
      await resetSession(client, false);
      navigate("/signin", { replace: true });
    },
  });
  return (
    <section aria-labelledby="leave-heading" className="danger-zone">
      <h2 id="leave-heading">Delete your account</h2>
      <p>Your account, every task and every manuscript are deleted at once; nothing can be restored.</p>
      <button type="button" className="danger" onClick={() => setOpen(true)}>Delete account…</button>
      <Confirm open={open} title="Delete your account?" confirm="Delete everything" busy={remove.isPending} onCancel={() => setOpen(false)} onConfirm={() => remove.mutate()}>
        <Field label="Your password" name="delete_password" type="password" autoComplete="current-password" value={password} onChange={setPassword} error={fieldError(remove.error, "password")} />
        <ErrorText error={remove.error} />
      </Confirm>
    </section>
  );
}
