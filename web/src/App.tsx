import { Suspense, lazy, type ReactNode } from "react";
import { Link, NavLink, Navigate, Route, Routes, useLocation, useNavigate } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { api } from "./api/client";
import { resetSession, useMe, useSignedOutWatch } from "./session";
import { Board } from "./pages/Board";
import { Forgot, Reset, SignIn, SignUp } from "./pages/Auth";
import { Notice } from "./components/ui";

// The first pages (the board, signing in) come with the app; the others load on demand, so the
// first page's script stays small.
const NewTask = lazy(() => import("./pages/NewTask").then((m) => ({ default: m.NewTask })));
const TaskPage = lazy(() => import("./pages/TaskPage").then((m) => ({ default: m.TaskPage })));
const Settings = lazy(() => import("./pages/Settings"));
const Admin = lazy(() => import("./pages/Admin"));

export function App() {
  const me = useMe();
  const [ended, dismiss] = useSignedOutWatch();
  const user = me.data?.user ?? null;
  if (me.isPending) {
    return <p className="loading" role="status">Loading…</p>;
  }
  const signedIn = (page: ReactNode) => (user ? page : <ToSignIn />);
  const signedOut = (page: ReactNode) => (user ? <Navigate to="/" replace /> : page);
  return (
    <>
      <a className="skip" href="#main">Skip to content</a>
      <Header />
      <main id="main" tabIndex={-1}>
        {ended && !user ? <Notice onDismiss={dismiss}>{ended}</Notice> : null}
        {me.isError ? <Notice>{me.error.message}</Notice> : null}
        <Suspense fallback={<p className="loading" role="status">Loading…</p>}>
          <Routes>
            <Route path="/" element={signedIn(<Board />)} />
            <Route path="/new" element={signedIn(<NewTask />)} />
            <Route path="/tasks/:taskId" element={signedIn(<TaskPage />)} />
            <Route path="/settings" element={signedIn(<Settings />)} />
            <Route path="/admin" element={signedIn(user?.is_superuser ? <Admin /> : <NotFound />)} />
            <Route path="/signin" element={signedOut(<SignIn />)} />
            <Route path="/signup" element={signedOut(<SignUp />)} />
            <Route path="/forgot" element={<Forgot />} />
            <Route path="/reset" element={<Reset />} />
            <Route path="*" element={<NotFound />} />
          </Routes>
        </Suspense>
      </main>
    </>
  );
}

function ToSignIn() {
  const location = useLocation();
  const next = location.pathname === "/" ? "" : `?next=${encodeURIComponent(location.pathname + location.search)}`;
  return <Navigate to={`/signin${next}`} replace />;
}

function Header() {
  const { data } = useMe();
  const client = useQueryClient();
  const navigate = useNavigate();
  const user = data?.user;
  const signOut = async () => {
    await api.POST("/auth/logout");
    await resetSession(client, false);
    navigate("/signin");
  };
  return (
    <header className="top">
      <Link to="/" className="brand">Writers</Link>
      {user ? (
        <nav aria-label="Main">
          <NavLink to="/" end>Board</NavLink>
          <NavLink to="/new">New task</NavLink>
          <NavLink to="/settings">Settings</NavLink>
          {user.is_superuser ? <NavLink to="/admin">Administration</NavLink> : null}
          <button type="button" className="link" onClick={signOut}>Sign out</button>
        </nav>
      ) : (
        <nav aria-label="Account">
          <NavLink to="/signin">Sign in</NavLink>
          <NavLink to="/signup">Sign up</NavLink>
        </nav>
      )}
    </header>
  );
}

function NotFound() {
  return (
    <section className="narrow">
      <h1>Not found</h1>
      <p>There is no page here. <Link to="/">Back to your board</Link>.</p>
    </section>
  );
}
