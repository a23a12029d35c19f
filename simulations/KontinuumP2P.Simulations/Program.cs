using KontinuumP2P.Simulations.Reporting;

return await SimulationCommand.RunAsync(args, CancellationToken.None).ConfigureAwait(false);
