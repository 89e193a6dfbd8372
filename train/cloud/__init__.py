"""The plain Python behind ``train/modal_app.py``: what the Modal Functions call with the volume
mount points. Nothing here needs Modal credentials, so the tests run it against temporary folders.

    layout        names of the Modal objects, mount points, a run's folders
    gpu           ``--gpu TYPE[:COUNT]`` and the GPUs a container really has
    requirements  which lines of requirements.txt the image installs
    argv          keyword options -> a CLI's argv; a CLI's ``main(argv)`` called in this process
    stream        a subprocess whose output goes to the Modal logs and a log file
    committer     commits the runs volume as each checkpoint appears
    reattach      a waiting Function re-attaches to its running GPU call after a restart
    prepare       the dataset and its pre-resized cache
    training      the generator and classifier under ``accelerate launch``
    publish       ONNX export, evaluation, Hub upload
"""
