/**
 * The pages before the editor: sign-in, and the first start's setup (the one-time link the server
 * printed: the first admin sets a password). Both end signed in (the server sets the session cookie).
 *
 * Test hooks: signin-page, signin-user, signin-password, signin-submit, signin-error;
 *             setup-page, setup-user, setup-password, setup-confirm, setup-submit, setup-error.
 */
import { useState, type FormEvent } from 'react';
import { ApiError, type Api, type Session } from '../api.js';

const MIN_PASSWORD = 8;

function AuthCard({ id, title, intro, error, children, onSubmit }: { id: string; title: string; intro: string; error?: string; children: React.ReactNode; onSubmit(): void }) {
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSubmit();
  };
  return (
    <main className="auth-page" data-testid={`${id}-page`}>
      <form className="auth-card" onSubmit={submit}>
        <h1>
          <svg width="20" height="20" viewBox="0 0 16 16" aria-hidden>
            <rect width="16" height="16" rx="4" fill="var(--accent)" />
            <path d="M4 5h8M4 8h5M4 11h8" stroke="white" strokeWidth="1.6" strokeLinecap="round" />
          </svg>
          {title}
        </h1>
        <p className="muted">{intro}</p>
        {children}
        {error && (
          <p className="auth-error" role="alert" data-testid={`${id}-error`}>
            {error}
          </p>
        )}
      </form>
    </main>
  );
}

const message = (err: unknown) => (err instanceof ApiError ? err.message : String(err));

export function SignInPage({ api, setupRequired, onSignedIn }: { api: Api; setupRequired: boolean; onSignedIn(s: Session): void }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = () => {
    setBusy(true);
    setError(undefined);
    api.signIn(user, password).then(onSignedIn, (err: unknown) => {
      setError(message(err));
      setBusy(false);
    });
  };
  const intro = setupRequired
    ? 'This server has no users yet: open the one-time setup link it printed when it started (…/setup?token=…), or start it with SLUICE_ADMIN_PASSWORD.'
    : 'Sign in to edit and run flows.';
  return (
    <AuthCard id="signin" title="Sign in to Sluice" intro={intro} error={error} onSubmit={submit}>
      <label>
        User
        <input data-testid="signin-user" autoComplete="username" value={user} onChange={(e) => setUser(e.target.value)} autoFocus required />
      </label>
      <label>
        Password
        <input data-testid="signin-password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
      </label>
      <button className="btn primary" data-testid="signin-submit" type="submit" disabled={busy || !user || !password}>
        Sign in
      </button>
    </AuthCard>
  );
}

export function SetupPage({ api, token, onSignedIn }: { api: Api; token: string; onSignedIn(s: Session): void }) {
  const [user, setUser] = useState('admin');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = () => {
    if (password.length < MIN_PASSWORD) return setError(`The password must be at least ${MIN_PASSWORD} characters.`);
    if (password !== confirm) return setError('The two passwords differ.');
    setBusy(true);
    setError(undefined);
    api.setup(token, user, password).then(onSignedIn, (err: unknown) => {
      setError(message(err));
      setBusy(false);
    });
  };
  return (
    <AuthCard id="setup" title="Set up Sluice" intro="Choose the first admin's name and password. This link works once." error={error} onSubmit={submit}>
      <label>
        Admin user
        <input data-testid="setup-user" autoComplete="username" value={user} onChange={(e) => setUser(e.target.value)} required />
      </label>
      <label>
        Password
        <input data-testid="setup-password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} autoFocus required />
      </label>
      <label>
        Password again
        <input data-testid="setup-confirm" type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} required />
      </label>
      <button className="btn primary" data-testid="setup-submit" type="submit" disabled={busy || !user || !password}>
        Set password and open the editor
      </button>
    </AuthCard>
  );
}
