/** Where a project keeps its policy, relative to the working folder (a light module: the CLI's help names it). */
export const PROJECT_POLICY = '.kamal/gate-policy.yml';
