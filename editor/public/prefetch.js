// What the editor's first screen needs, fetched while its code downloads (src/api.ts takes it).
(function () {
  var p = (window.__sluicePrefetch = { 'auth/session': fetch('/api/auth/session'), 'node-types': fetch('/api/node-types') });
  var m = /^#\/flow\/([A-Za-z0-9._-]+)$/.exec(location.hash);
  if (m) p['flows/' + m[1]] = fetch('/api/flows/' + m[1]);
})();
