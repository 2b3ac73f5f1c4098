// Vite turns imported stylesheets into <link>s; TypeScript only needs to know they exist.
declare module '*.css';
