// Administration (superusers only): the accounts, activation and promotion, and the audit log.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { type Schemas, api, ok } from "../api/client";
import { useMe } from "../session";
import { formatBytes } from "../lib/files";
import { formatStamp } from "../lib/dates";
import { ErrorText } from "../components/ui";
import { Pager, useCursors } from "../components/pager";

const ACTIONS: Record<Schemas["AuditAction"], string> = { activate: "activated", deactivate: "deactivated", promote: "promoted", demote: "demoted" };

export default function Admin() {
  const [search, setSearch] = useState("");
  const [q, setQ] = useState("");
  const cursors = useCursors();
  const { after, reset } = cursors;
  useEffect(() => {
    const timer = setTimeout(() => { setQ(search.trim()); reset(); }, 300);
    return () => clearTimeout(timer);
  }, [search, reset]);
  const query = { limit: 50, ...(q ? { q } : {}), ...(after ? { after } : {}) };
  const users = useQuery({ queryKey: ["admin", "users", query], queryFn: () => ok(api.GET("/admin/users", { params: { query } })), placeholderData: keepPreviousData });
  const audit = useQuery({ queryKey: ["admin", "audit"], queryFn: () => ok(api.GET("/admin/audit", { params: { query: { limit: 50 } } })) });
  const page = users.data;
  return (
    <section>
      <h1>Administration</h1>
      <div className="field">
        <label htmlFor="admin-search">Search accounts by email or username</label>
        <input id="admin-search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
      </div>
      <ErrorText error={users.error} />
      {page ? (
        <>
          <p className="muted">{page.total === 1 ? "1 account" : `${page.total} accounts`}</p>
          <div className="scroll">
            <table>
              <caption className="visually-hidden">Accounts</caption>
              <thead><tr><th scope="col">Account</th><th scope="col" className="num">Tasks</th><th scope="col" className="num">Stored</th><th scope="col">Last sign-in</th><th scope="col">Active</th><th scope="col">Administrator</th></tr></thead>
              <tbody>{page.users.map((u) => <UserRow key={u.id} user={u} />)}</tbody>
            </table>
          </div>
          <Pager cursors={cursors} next={page.next} label="Pages of accounts" />
        </>
      ) : null}
      <h2>Audit log</h2>
      <ErrorText error={audit.error} />
      <ul className="audit">
        {(audit.data?.entries ?? []).map((e) => (
          <li key={e.id}>
            <small className="muted">{formatStamp(e.at)}</small> {e.actor_email ?? (e.actor_id ? "a deleted account" : "the operator")} {ACTIONS[e.action]} {e.target_email ?? "a deleted account"}
          </li>
        ))}
        {audit.data && audit.data.entries.length === 0 ? <li className="muted">No administrator action yet.</li> : null}
      </ul>
    </section>
  );
}

function UserRow({ user }: { user: Schemas["AdminUserView"] }) {
  const client = useQueryClient();
  const { data: me } = useMe();
  const self = me?.user.id === user.id;
  const change = useMutation({
    mutationFn: (patch: Schemas["AdminUserPatch"]) => ok(api.PATCH("/admin/users/{user_id}", { params: { path: { user_id: user.id } }, body: patch })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["admin"] }),
  });
  return (
    <tr>
      <td><span dir="auto">{user.full_name ?? user.username}</span><br /><small className="muted">{user.email}</small><ErrorText error={change.error} /></td>
      <td className="num">{user.task_count}</td>
      <td className="num">{formatBytes(user.stored_bytes)}</td>
      <td>{user.last_login_at ? formatStamp(user.last_login_at) : "Never"}</td>
      <td>
        <button type="button" disabled={self || change.isPending} onClick={() => change.mutate({ is_active: !user.is_active })} aria-label={`${user.is_active ? "Deactivate" : "Activate"} ${user.email}`}>
          {user.is_active ? "Deactivate" : "Activate"}
        </button>
      </td>
      <td>
        <button type="button" disabled={self || change.isPending} onClick={() => change.mutate({ is_superuser: !user.is_superuser })} aria-label={`${user.is_superuser ? "Demote" : "Promote"} ${user.email}`}>
          {user.is_superuser ? "Demote" : "Promote"}
        </button>
      </td>
    </tr>
  );
}
