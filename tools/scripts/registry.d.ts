declare function stopLocalRegistry(): void;
