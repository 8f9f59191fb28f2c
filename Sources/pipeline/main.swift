PipelineCommand.main()
