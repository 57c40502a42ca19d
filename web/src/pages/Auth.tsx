// Sign up, sign in, the forgotten password and the reset page its email links to.
import { type FormEvent, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { api, ok } from "../api/client";
import { resetSession } from "../session";
import { ErrorText, Field, Notice, fieldError } from "../components/ui";

/** A form's submit: busy while it runs, its error kept for display. */
export function useSubmit<T>(action: () => Promise<T>, then?: (result: T) => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event?: FormEvent) => {
    event?.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const result = await action();
      then?.(result);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, submit, setError };
}

/** Where to go after signing in: the page asked for, if it is one of ours. */
function useNext() {
  const [params] = useSearchParams();
  const next = params.get("next") ?? "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export function SignIn() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const client = useQueryClient();
  const navigate = useNavigate();
  const next = useNext();
  const { busy, error, submit } = useSubmit(
    () => ok(api.POST("/auth/login", { body: { email, password } })),
    async () => {
      await resetSession(client, true);
      navigate(next, { replace: true });
    },
  );
  return (
    <section className="narrow">
      <h1>Sign in</h1>
      <form onSubmit={submit} noValidate>
        <Field label="Email" name="email" type="email" autoComplete="username" value={email} onChange={setEmail} required />
        <Field label="Password" name="password" type="password" autoComplete="current-password" value={password} onChange={setPassword} required />
        <ErrorText error={error} />
        <button type="submit" className="primary" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
      </form>
      <p><Link to="/forgot">Forgot your password?</Link> · New here? <Link to="/signup">Create an account</Link>.</p>
    </section>
  );
}

export function SignUp() {
  const [form, setForm] = useState({ email: "", username: "", full_name: "", password: "" });
  const set = (name: keyof typeof form) => (value: string) => setForm((f) => ({ ...f, [name]: value }));
  const client = useQueryClient();
  const navigate = useNavigate();
  const { busy, error, submit } = useSubmit(
    () => ok(api.POST("/auth/register", { body: { ...form, full_name: form.full_name.trim() || null } })),
    async () => {
      await resetSession(client, true);
      navigate("/", { replace: true });
    },
  );
  return (
    <section className="narrow">
      <h1>Create your account</h1>
      <form onSubmit={submit} noValidate>
        <Field label="Email" name="email" type="email" autoComplete="email" value={form.email} onChange={set("email")} error={fieldError(error, "email")} required />
        <Field label="Username" name="username" autoComplete="username" value={form.username} onChange={set("username")} error={fieldError(error, "username")} hint="3 to 100 letters, digits, dots, dashes or underscores." required />
        <Field label="Full name (optional)" name="full_name" autoComplete="name" value={form.full_name} onChange={set("full_name")} error={fieldError(error, "full_name")} />
        <Field label="Password" name="password" type="password" autoComplete="new-password" value={form.password} onChange={set("password")} error={fieldError(error, "password")} hint="At least 8 characters." required />
        <ErrorText error={error} />
        <button type="submit" className="primary" disabled={busy}>{busy ? "Creating…" : "Create account"}</button>
      </form>
      <p>Already have an account? <Link to="/signin">Sign in</Link>.</p>
    </section>
  );
}

export function Forgot() {
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState<string | null>(null);
  const { busy, error, submit } = useSubmit(
    () => ok(api.POST("/auth/password-reset", { body: { email } })),
    (result) => setSent(result.message),
  );
  return (
    <section className="narrow">
      <h1>Forgot your password?</h1>
      {sent ? (
        <Notice tone="success">{sent} The link in it works for 30 minutes.</Notice>
      ) : (
        <form onSubmit={submit} noValidate>
          <p>Give the email of your account: we send it a link to choose a new password.</p>
          <Field label="Email" name="email" type="email" autoComplete="email" value={email} onChange={setEmail} error={fieldError(error, "email")} required />
          <ErrorText error={error} />
          <button type="submit" className="primary" disabled={busy}>{busy ? "Sending…" : "Send the link"}</button>
        </form>
      )}
      <p><Link to="/signin">Back to sign in</Link></p>
    </section>
  );
}

/** The token arrives in the fragment (`/reset#token=…`): it reaches no server log and no `Referer`. */
function tokenFromFragment(): string {
  return new URLSearchParams(location.hash.slice(1)).get("token") ?? "";
}

export function Reset() {
  const [token] = useState(tokenFromFragment);
  const [password, setPassword] = useState("");
  const [done, setDone] = useState(false);
  const { busy, error, submit } = useSubmit(
    () => ok(api.POST("/auth/password-reset/confirm", { body: { token, new_password: password } })),
    () => {
      history.replaceState(null, "", location.pathname);
      setDone(true);
    },
  );
  return (
    <section className="narrow">
      <h1>Choose a new password</h1>
      {done ? (
        <Notice tone="success">
          Your password is changed and every device was signed out. <Link to="/signin">Sign in</Link> with the new one.
        </Notice>
      ) : !token ? (
        <Notice tone="error">This page needs the link from the reset email. <Link to="/forgot">Ask for a new one</Link>.</Notice>
      ) : (
        <form onSubmit={submit} noValidate>
          <Field label="New password" name="new_password" type="password" autoComplete="new-password" value={password} onChange={setPassword} error={fieldError(error, "new_password")} hint="At least 8 characters." required />
          <ErrorText error={error} />
          <button type="submit" className="primary" disabled={busy}>{busy ? "Saving…" : "Set the new password"}</button>
        </form>
      )}
    </section>
  );
}
