/** Entry point: one API client, one store, handed down by context. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import '@xyflow/react/dist/style.css';
import './styles.css';
import { Api } from './api.js';
import { App } from './App.js';
import { ApiContext, StoreContext, createEditorStore } from './store.js';

const api = new Api();
const store = createEditorStore(api);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ApiContext.Provider value={api}>
      <StoreContext.Provider value={store}>
        <App />
      </StoreContext.Provider>
    </ApiContext.Provider>
  </StrictMode>,
);
