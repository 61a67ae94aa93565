// Virtual module provided by esbuild.config.mjs inside the bundle only.
declare module 'tinyqa:pty-binding' {
  const load: () => unknown;
  export default load;
}
