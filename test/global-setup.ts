// Placeholder: replaced by the test harness (checks that the servers tests need are installed).
export default function setup(): void {}
