/**
 * Entry point: who is signed in first (GET /api/auth/session); then one API client, one store, handed
 * down by context. Not signed in: the sign-in page, or at /setup?token=… the first start's setup page.
 */
import { StrictMode, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import '@xyflow/react/dist/style.css';
import './styles.css';
import { Api, ApiError, type Session } from './api.js';
import { App } from './App.js';
import { SetupPage, SignInPage } from './components/SignIn.js';
import { ApiContext, StoreContext, createEditorStore } from './store.js';

const api = new Api();
const root = createRoot(document.getElementById('root')!);
const render = (node: ReactNode) => root.render(<StrictMode>{node}</StrictMode>);

/** the editor at the app's root (the setup page is at …/setup) */
const editorHome = () => location.replace(new URL('./', location.href).href.replace(/setup\/?$/, ''));

function openEditor(session: Session) {
  api.me = session;
  api.onSignedOut = () => location.reload(); // the session ended: the sign-in page again
  const store = createEditorStore(api);
  render(
    <ApiContext.Provider value={api}>
      <StoreContext.Provider value={store}>
        <App />
      </StoreContext.Provider>
    </ApiContext.Provider>,
  );
}

async function boot() {
  const setupToken = /\/setup\/?$/.test(location.pathname) ? new URLSearchParams(location.search).get('token') : null;
  if (setupToken) return render(<SetupPage api={api} token={setupToken} onSignedIn={editorHome} />);
  try {
    openEditor(await api.session());
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) {
      render(<p className="auth-page muted">Cannot open the editor: {(err as Error).message}</p>);
      return;
    }
    render(<SignInPage api={api} setupRequired={err.body.setupRequired === true} onSignedIn={() => location.reload()} />);
  }
}

void boot();
