/** Change your password (the server then ends your other sessions). Test hooks: password-dialog, pw-current, pw-new, pw-confirm, pw-submit, pw-error. */
import { useState, type FormEvent } from 'react';
import { ApiError } from '../api.js';
import { useApi } from '../store.js';
import { Modal } from './Modal.js';

const MIN_PASSWORD = 8;

export function PasswordDialog({ onClose, onChanged }: { onClose(): void; onChanged(): void }) {
  const api = useApi();
  const [current, setCurrent] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (password.length < MIN_PASSWORD) return setError(`The new password must be at least ${MIN_PASSWORD} characters.`);
    if (password !== confirm) return setError('The two new passwords differ.');
    setBusy(true);
    api.changePassword(current, password).then(onChanged, (err: unknown) => {
      setError(err instanceof ApiError ? err.message : String(err));
      setBusy(false);
    });
  };
  return (
    <Modal title="Change your password" onClose={onClose} testId="password-dialog">
      <form className="auth-card flat" onSubmit={submit}>
        <label>
          Current password
          <input data-testid="pw-current" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} autoFocus required />
        </label>
        <label>
          New password
          <input data-testid="pw-new" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        <label>
          New password again
          <input data-testid="pw-confirm" type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} required />
        </label>
        {error && (
          <p className="auth-error" role="alert" data-testid="pw-error">
            {error}
          </p>
        )}
        <button className="btn primary" data-testid="pw-submit" type="submit" disabled={busy || !current || !password}>
          Change password
        </button>
      </form>
    </Modal>
  );
}
