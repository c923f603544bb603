// Types of scripts/chromium.mjs for the TypeScript that imports it.
import type { Browser } from 'playwright-core';
import type { Server } from 'node:http';

export declare const CHROMIUM_ARGS: string[];
export declare function launchChromium(executablePath: string, opts?: { args?: string[]; timeout?: number }): Promise<Browser>;
export declare const ISOLATION_HEADERS: Record<string, string>;
export declare function serveFiles(resolve: (pathname: string) => string | null, opts?: { headers?: Record<string, string> }): Promise<{ server: Server; origin: string; close: () => Promise<void> }>;
export declare function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T>;
