// Circuit panel webview entry point.
export {};
