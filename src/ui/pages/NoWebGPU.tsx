// Shown instead of the playground when the page has no WebGPU adapter: what is missing and how
// to get it, never a blank screen.

const isSecure = typeof window !== 'undefined' && window.isSecureContext;

export function NoWebGPU({ message }: { message: string }) {
  return (
    <main data-testid="no-webgpu" style={styles.main}>
      <h1>FACM playground</h1>
      <h2>WebGPU is not available</h2>
      <p>
        This playground trains models on your GPU through WebGPU, and this page found no WebGPU adapter
        {typeof navigator !== 'undefined' && !('gpu' in navigator) ? ' (navigator.gpu is missing)' : ''}.
      </p>
      <p data-testid="no-webgpu-message" style={styles.message}>
        {message}
      </p>
      <h3>How to enable it</h3>
      <ul>
        <li>Chrome or Edge 113 or newer: WebGPU is on by default on Windows, macOS and ChromeOS.</li>
        <li>
          Chrome on Linux: start it with <code>--enable-unsafe-webgpu --enable-features=Vulkan</code>, or turn on{' '}
          <code>chrome://flags/#enable-unsafe-webgpu</code>. Without a GPU, add{' '}
          <code>--use-webgpu-adapter=swiftshader</code> for a (slow) CPU adapter.
        </li>
        <li>Firefox: WebGPU ships in 141+ on Windows; elsewhere set <code>dom.webgpu.enabled</code> in about:config.</li>
        <li>Safari: 26+, or enable WebGPU under Develop → Feature Flags.</li>
        <li>
          Check <code>chrome://gpu</code>: a blocklisted driver or disabled hardware acceleration also removes
          WebGPU.
        </li>
      </ul>
      {!isSecure && (
        <p style={styles.warn}>
          This page is not a secure context: WebGPU needs https or localhost. Serve it on 127.0.0.1 / localhost
          or over https.
        </p>
      )}
      <p>
        Without a browser GPU you can still train from the command line on Dawn: <code>npm run facm -- train</code>.
      </p>
    </main>
  );
}

const styles = {
  main: { fontFamily: 'system-ui, sans-serif', maxWidth: 760, margin: '2rem auto', padding: '0 1rem', lineHeight: 1.5 },
  message: { background: '#fff4e5', border: '1px solid #f0b35b', padding: '0.75rem', borderRadius: 4 },
  warn: { color: '#a30000' },
} as const;
