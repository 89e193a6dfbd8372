// Runs before the page's module: when the host sends no COOP/COEP headers (GitHub Pages),
// register coi-sw.js and reload once so the page becomes cross-origin isolated (threads).
// ?coi=0 turns this off (one WASM thread, like a plain static host).
// window.catsDitCoi resolves to "reloading" (main.js then waits for the reload) or "no".
window.catsDitCoi = (function () {
  const params = new URLSearchParams(location.search);
  if (self.crossOriginIsolated || params.get('coi') === '0') return Promise.resolve('no');
  if (!window.isSecureContext || !('serviceWorker' in navigator)) return Promise.resolve('no');
  const KEY = 'cats-dit-coi-reloaded';
  return navigator.serviceWorker
    .register(new URL('../coi-sw.js', document.currentScript.src))
    .then((registration) => {
      // Controlled but still not isolated: this browser cannot do it; never loop.
      if (navigator.serviceWorker.controller || sessionStorage.getItem(KEY)) return 'no';
      sessionStorage.setItem(KEY, '1');
      const reload = () => location.reload();
      if (registration.active) reload();
      else navigator.serviceWorker.addEventListener('controllerchange', reload, { once: true });
      return 'reloading';
    })
    .catch((err) => {
      console.warn('cross-origin isolation service worker not registered:', err);
      return 'no';
    });
})();
