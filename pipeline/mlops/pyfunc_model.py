"""The file MLflow logs as the pyfunc's code ("models from code").

MLflow runs this file when it loads the model, so nothing of :class:`LeadScoreModel` is
cloudpickled: the class comes from the LeadScore wheel the model installs
(:mod:`pipeline.mlops.packaging`), and a model logged with one LeadScore never unpickles code.
"""

from mlflow.models import set_model

from pipeline.mlops.serving import LeadScoreModel

set_model(LeadScoreModel())
