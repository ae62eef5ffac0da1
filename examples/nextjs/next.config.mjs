// Offline build: no fonts or images are fetched (system fonts, no next/image
// optimizer), telemetry is off in the npm scripts (NEXT_TELEMETRY_DISABLED=1).
/** @type {import('next').NextConfig} */
const nextConfig = {
  poweredByHeader: false,
  images: { unoptimized: true },
  // This directory is the app's root, even inside the extension's repository.
  outputFileTracingRoot: import.meta.dirname,
  turbopack: { root: import.meta.dirname },
};

export default nextConfig;
